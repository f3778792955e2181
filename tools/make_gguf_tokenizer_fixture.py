"""A tokenizer-only GGUF for MedQA's GGUF tokenizer test (medqa-core GgufTokenizerTest).

Copies, unchanged, the tokenizer.* metadata llama.cpp's convert_hf_to_gguf.py wrote for a model with
Mistral's tokenizer (tokens, SentencePiece scores, token types, BOS/EOS ids) into a GGUF file with no
tensors, and adds tokenizer.chat_template from Mistral-7B-Instruct-v0.1's tokenizer_config.json, as
the converter writes it for that repo.

Usage: /tmp/ref/bin/python tools/make_gguf_tokenizer_fixture.py CONVERTED.gguf TOKENIZER_CONFIG.json OUT.gguf
"""
import json
import sys

import gguf

src, config, out = sys.argv[1:4]
r = gguf.GGUFReader(src)
w = gguf.GGUFWriter(out, arch="llama")
f = r.fields
w.add_tokenizer_model(f["tokenizer.ggml.model"].contents())
w.add_token_list(f["tokenizer.ggml.tokens"].contents())
w.add_token_scores(f["tokenizer.ggml.scores"].contents())
w.add_token_types(f["tokenizer.ggml.token_type"].contents())
w.add_bos_token_id(f["tokenizer.ggml.bos_token_id"].contents())
w.add_eos_token_id(f["tokenizer.ggml.eos_token_id"].contents())
w.add_add_bos_token(True)
w.add_add_eos_token(False)
w.add_chat_template(json.load(open(config))["chat_template"])
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print("wrote", out)
