"""Structured output, tools and logprobs of `medqa serve` through OpenAI's own Python SDK (a manual check,
not a test: the product and its tests never need Python).

Usage: medqa serve --model DIR --quantize int4 &   then   python tools/check_openai_sdk.py [http://127.0.0.1:8080/v1]
Recorded (openai 3.22.1, model M, random weights): parse() 10/10, tool_calls with valid arguments,
a tool result back, logprobs and streamed logprobs.
"""
import sys
import time
from enum import Enum
from pydantic import BaseModel
from openai import OpenAI
c = OpenAI(base_url=sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/v1", api_key="x")
class Answer(str, Enum):
    yes="yes"; no="no"; maybe="maybe"
class Verdict(BaseModel):
    answer: Answer
    explanation: str
MODEL = c.models.list().data[0].id
ok = 0
t = time.time()
for seed in range(10):
    r = c.chat.completions.parse(model=MODEL, messages=[{"role":"user","content":"Is aspirin an NSAID? JSON."}],
        response_format=Verdict, seed=seed, temperature=1.0, max_tokens=120)
    v = r.choices[0].message.parsed
    ok += v is not None
print("parsed", ok, "/10 in", round(time.time()-t,1), "s; e.g.", r.choices[0].message.content[:100])
tools=[{"type":"function","function":{"name":"drug_class","description":"class of a drug","parameters":{"type":"object","properties":{"name":{"type":"string","maxLength":20}},"required":["name"]}}}]
msgs=[{"role":"user","content":"What class is aspirin?"}]
r = c.chat.completions.create(model=MODEL, messages=msgs, tools=tools, tool_choice="required", seed=1, max_tokens=80)
m = r.choices[0].message
print("finish", r.choices[0].finish_reason, "call", m.tool_calls[0].function.name, m.tool_calls[0].function.arguments)
msgs += [m.model_dump(exclude_none=True), {"role":"tool","tool_call_id":m.tool_calls[0].id,"content":"NSAID"}]
r2 = c.chat.completions.create(model=MODEL, messages=msgs, tools=tools, seed=2, max_tokens=80)
print("after tool:", r2.choices[0].finish_reason, (r2.choices[0].message.content or str(r2.choices[0].message.tool_calls))[:80])
r3 = c.chat.completions.create(model=MODEL, messages=[{"role":"user","content":"hi"}], logprobs=True, top_logprobs=3, max_tokens=8, seed=3)
lp = r3.choices[0].logprobs.content
print("logprobs", len(lp), [ (t.token, round(t.logprob,3)) for t in lp[:3]], "top", [(a.token, round(a.logprob,3)) for a in lp[0].top_logprobs])
s = c.chat.completions.create(model=MODEL, messages=[{"role":"user","content":"hi"}], logprobs=True, max_tokens=8, seed=3, stream=True)
n = sum(len(ch.choices[0].logprobs.content) for ch in s if ch.choices and ch.choices[0].logprobs)
print("streamed logprob entries", n)
