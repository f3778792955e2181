"""Golden ids for chat templates that render tools themselves (Mistral v0.3's kind).

No Mistral v0.3 tokenizer is stored here, so a synthetic one stands in: Mistral-7B v0.1's
tokenizer.json with v0.3's control tokens added as special tokens (ids 32000-32006, in the order
of TOOL_TOKENS below) and v0.3's chat template (chat_template.jinja next to the golden). MedQA's
tests build the same tokenizer.json the same way (ToolTemplateTest). transformers'
apply_chat_template(messages, tools=...) gives the ids for conversations with tools, tool calls
(arguments as objects, ids of 9 letters and digits, as the template demands) and tool results.

  /tmp/ref/bin/python tools/make_tool_template_golden.py ../shared \
      medqa-core/src/test/resources/tokenizer/mistral-v0.3-tools
needs: transformers (5.18 was used), jinja2.
"""
import json, os, sys, tempfile

from transformers import AutoTokenizer

shared, out_dir = sys.argv[1], sys.argv[2]
TOOL_TOKENS = ["[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
               "[/TOOL_RESULTS]"]

tokenizer_json = json.load(open(os.path.join(shared, "data", "mistral-7b-v0.1", "tokenizer.json")))
for i, t in enumerate(TOOL_TOKENS):
    tokenizer_json["added_tokens"].append({"id": 32000 + i, "content": t, "single_word": False, "lstrip": False,
                                           "rstrip": False, "normalized": False, "special": True})
template = open(os.path.join(out_dir, "chat_template.jinja")).read().rstrip("\n")
config = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
          "add_eos_token": False, "legacy": True, "tokenizer_class": "LlamaTokenizer", "chat_template": template,
          "additional_special_tokens": TOOL_TOKENS}

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city (\u00b0C, \"metric\")",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Z\u00fcrich"},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "units": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}
DOSE = {"type": "function", "function": {
    "name": "drug_dose", "description": "Adult dose of a drug",
    "parameters": {"type": "object", "properties": {
        "drug": {"type": "string"}, "routes": {"type": "array", "items": {"type": "string"}},
        "patient": {"type": "object", "properties": {"kg": {"type": "number"}}}},
        "required": ["drug", "routes"]}}}


def call(cid, name, args):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


CASES = [
    {"name": "tools, one user turn", "tools": [WEATHER, DOSE],
     "messages": [{"role": "user", "content": "What is the weather in Z\u00fcrich?"}]},
    {"name": "system, call, result, answer, next question", "tools": [WEATHER],
     "messages": [
         {"role": "system", "content": "You answer briefly."},
         {"role": "user", "content": "Weather in Paris for 2 days?"},
         {"role": "assistant", "tool_calls": [call("a1B2c3D4e", "get_weather", {"city": "Paris", "days": 2})]},
         {"role": "tool", "tool_call_id": "a1B2c3D4e", "content": "{\"temp\": 21, \"sky\": \"clear\"}"},
         {"role": "assistant", "content": "21 \u00b0C and clear."},
         {"role": "user", "content": "And in Rome?"}]},
    {"name": "two calls at once, two results", "tools": [WEATHER, DOSE],
     "messages": [
         {"role": "user", "content": "Dose of metformin, and Oslo's weather"},
         {"role": "assistant", "tool_calls": [
             call("Xy12Ab34c", "drug_dose", {"drug": "metformin", "routes": ["oral"], "patient": {"kg": 70.5}}),
             call("Qq9Ww8Ee7", "get_weather", {"city": "Oslo"})]},
         {"role": "tool", "tool_call_id": "Xy12Ab34c", "content": "500 mg twice daily"},
         {"role": "tool", "tool_call_id": "Qq9Ww8Ee7", "content": "-3 \u00b0C"}]},
    {"name": "no tools", "tools": None,
     "messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there"},
                  {"role": "user", "content": "Is aspirin an NSAID?"}]},
]

with tempfile.TemporaryDirectory() as tmp:
    json.dump(tokenizer_json, open(os.path.join(tmp, "tokenizer.json"), "w"))
    json.dump(config, open(os.path.join(tmp, "tokenizer_config.json"), "w"))
    hf = AutoTokenizer.from_pretrained(tmp)
    assert hf.convert_tokens_to_ids("[TOOL_CALLS]") == 32002, hf.convert_tokens_to_ids("[TOOL_CALLS]")
    out = []
    for case in CASES:
        kwargs = {"tools": case["tools"]} if case["tools"] is not None else {}
        text = hf.apply_chat_template(case["messages"], tokenize=False, add_generation_prompt=True, **kwargs)
        ids = hf.apply_chat_template(case["messages"], tokenize=True, add_generation_prompt=True, **kwargs)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        out.append({**case, "text": text, "ids": list(ids)})
        print(case["name"], len(ids), text[:160].replace("\n", "\\n"))

json.dump({"tool_tokens": TOOL_TOKENS, "first_id": 32000, "chat_template": template, "cases": out},
          open(os.path.join(out_dir, "golden.json"), "w"), indent=1, ensure_ascii=False)
