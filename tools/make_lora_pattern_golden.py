#!/usr/bin/env python3
"""PEFT's own answers to LoraConfig module questions on model C (written for MedQA's LoRA tests).

For configs using rank_pattern / alpha_pattern / regex target_modules / layers_to_transform /
exclude_modules / use_rslora, records which modules PEFT 0.21 wraps, each one's r and scaling, and
the trainable-parameter count. The Java test reads the output and asks LoraConfig the same.

Usage (from the repository root, with a venv holding torch, transformers, peft):
  VENV/bin/python tools/make_lora_pattern_golden.py \
      medqa-core/src/test/resources/fixtures/mistral-swa/f32 \
      medqa-core/src/test/resources/fixtures/lora/patterns_golden.json
"""
import json, sys

CONFIGS = {
    "rank_alpha_patterns": dict(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"],
                                rank_pattern={"q_proj": 4, "model.layers.1.self_attn.v_proj": 2,
                                              r"layers\.3\.mlp\..*": 6},
                                alpha_pattern={"down_proj": 3, "v_proj": 5}),
    "rslora_patterns": dict(r=8, lora_alpha=16, target_modules=["q_proj", "o_proj"], use_rslora=True,
                            rank_pattern={"o_proj": 2}),
    "regex_targets": dict(r=4, lora_alpha=8, target_modules=r"model\.layers\.[01]\.self_attn\.(q|k)_proj"),
    "layers_to_transform": dict(r=4, lora_alpha=8, target_modules=["q_proj", "up_proj"], layers_to_transform=[0, 2]),
    "layers_pattern": dict(r=4, lora_alpha=8, target_modules=["v_proj"], layers_to_transform=[3],
                           layers_pattern="layers"),
    "exclude_modules": dict(r=2, lora_alpha=4, target_modules=["q_proj", "gate_proj", "lm_head"],
                            exclude_modules=["model.layers.2.mlp.gate_proj"]),
    "exclude_regex": dict(r=2, lora_alpha=4, target_modules=["k_proj"], exclude_modules=r".*layers\.[23]\..*"),
}


def main(model_dir, out):
    import torch, peft
    from peft import LoraConfig, get_peft_model
    from transformers import MistralForCausalLM
    res = {"peft_version": peft.__version__, "configs": {}}
    for name, kw in CONFIGS.items():
        m = MistralForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        pm = get_peft_model(m, LoraConfig(task_type="CAUSAL_LM", **kw))
        modules = {}
        for n, mod in pm.base_model.model.named_modules():
            if hasattr(mod, "lora_A") and "default" in mod.lora_A:
                modules[n] = {"r": mod.r["default"], "scaling": mod.scaling["default"]}
        trainable, _ = pm.get_nb_trainable_parameters()
        cfg = pm.peft_config["default"].to_dict()
        for k in ("target_modules", "exclude_modules"):
            if isinstance(cfg.get(k), set):
                cfg[k] = sorted(cfg[k])
        cfg["peft_type"] = "LORA"
        cfg["task_type"] = "CAUSAL_LM"
        res["configs"][name] = {"adapter_config": json.loads(json.dumps(cfg, default=str)),
                                "modules": modules, "trainable_params": trainable}
        print(name, len(modules), trainable, file=sys.stderr)
    json.dump(res, open(out, "w"), indent=1)  # keep pattern order: the first match wins


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
