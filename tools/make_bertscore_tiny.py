"""Tiny random BERT and RoBERTa checkpoints with transformers' hidden states, for BertEncoder.load.

Writes, under OUT (medqa-metrics/src/test/resources/bertscore/tiny):
  bert/     BertForMaskedLM (names prefixed "bert.", an MLM head the encoder ignores), F32 safetensors
  roberta/  RobertaForMaskedLM ("roberta." prefix, positions from pad_token_id + 1), stored BF16
  each with config.json, tokenizer.json (a small WordPiece vocabulary) and golden.json:
  {"texts", "ids" (tokenizer with special tokens), "hidden_states": [layer][text][token][hidden]}
  from BertModel/RobertaModel(output_hidden_states=True) in float32, each text run alone (no padding).
The RoBERTa goldens use the BF16-rounded weights widened to float32, as the Java reader does.

  /tmp/ref/bin/python tools/make_bertscore_tiny.py medqa-metrics/src/test/resources/bertscore/tiny
"""
import json, os, sys
import torch
import transformers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertForMaskedLM, RobertaConfig, RobertaForMaskedLM

out_root = sys.argv[1]
WORDS = ("the a of in and with was were patients study results treatment risk disease clinical "
         "cancer group outcome associated higher lower mortality therapy trial children women men "
         "increased decreased significant not no yes years after before surgery blood pressure").split()
TEXTS = ["The patients were treated with therapy.",
         "Higher mortality was associated with cancer in women",
         "no",
         "Results of the clinical trial in children after surgery were not significant."]


def tokenizer(specials, cls, sep):
    vocab = {t: i for i, t in enumerate(specials + WORDS + [".", ","])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token=specials[specials.index("[UNK]")] if "[UNK]" in specials else "<unk>"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])])
    # Like all-MiniLM-L6-v2's file: truncation and padding switched on, which the encoder must undo.
    tok.enable_truncation(max_length=8)
    tok.enable_padding(length=16, pad_id=vocab[specials[0]] if specials[0] != "<s>" else 1)
    return tok, len(vocab)


def build(kind):
    torch.manual_seed(7 if kind == "bert" else 11)
    folder = os.path.join(out_root, kind)
    os.makedirs(folder, exist_ok=True)
    if kind == "bert":
        tok, v = tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[CLS]", "[SEP]")
        cfg = BertConfig(vocab_size=v, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=40, type_vocab_size=2, pad_token_id=0)
        model = BertForMaskedLM(cfg)
    else:
        tok, v = tokenizer(["<s>", "<pad>", "</s>", "<unk>"], "<s>", "</s>")
        cfg = RobertaConfig(vocab_size=v, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=42, type_vocab_size=1,
                            pad_token_id=1, bos_token_id=0, eos_token_id=2)
        model = RobertaForMaskedLM(cfg)
    model.eval()
    # Non-trivial LayerNorm parameters, so that their loading is tested too.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    if kind == "roberta":
        model = model.to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save(os.path.join(folder, "tokenizer.json"))
    model = model.float()
    encoder = model.bert if kind == "bert" else model.roberta
    plain = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    plain.no_truncation()
    plain.no_padding()
    ids, states = [], []
    for text in TEXTS:
        # bert-score's sent_encode: RoBERTa gets add_prefix_space (a leading space).
        enc = plain.encode((" " + text) if kind == "roberta" else text).ids
        ids.append(enc)
        with torch.no_grad():
            hs = encoder(torch.tensor([enc]), output_hidden_states=True).hidden_states
        states.append([h[0].tolist() for h in hs])
    golden = {"source": f"transformers {transformers.__version__}, torch {torch.__version__}",
              "texts": TEXTS, "ids": ids,
              "hidden_states": [[states[t][l] for t in range(len(TEXTS))] for l in range(cfg.num_hidden_layers + 1)]}
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump(golden, f)


build("bert")
build("roberta")
