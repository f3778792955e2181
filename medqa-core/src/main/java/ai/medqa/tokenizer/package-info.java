/**
 * Text to token ids and back, for Hugging Face tokenizer folders ({@code tokenizer.json} plus
 * {@code tokenizer_config.json}), through DJL's binding of the Rust {@code tokenizers} library.
 *
 * <h2>Which behaviour MedQA follows</h2>
 * <p>{@link ai.medqa.tokenizer.Tokenizer#encode(String)} gives what Python users get from
 * transformers for the same folder, {@code AutoTokenizer.from_pretrained(dir)(text)["input_ids"]},
 * so that prompts, ids and scores carry over between Python and Java:
 * <ul>
 *   <li>For a legacy Llama-family tokenizer ({@code legacy} true or absent, {@code tokenizer_class}
 *       {@code LlamaTokenizer}/{@code LlamaTokenizerFast} or no {@code tokenizer_config.json}) the
 *       Metaspace pre-tokenizer's {@code prepend_scheme} is changed from {@code "first"} (as written
 *       in Mistral's {@code tokenizer.json}) to {@code "always"}, exactly as transformers does on
 *       load. With {@code "first"} the text after a special token ({@code "<s>[INST]"}) would not get
 *       its {@code ▁}. With {@code legacy: false} the file is used as written.</li>
 *   <li>BOS and EOS are added as {@code add_bos_token}/{@code add_eos_token} say (Llama defaults: BOS
 *       only). Nothing is ever truncated or padded (DJL would cut at 512 tokens by default).</li>
 *   <li>Special-token strings in the text ({@code <s>}, {@code </s>}, {@code <unk>}) become their
 *       control ids, as in transformers.</li>
 * </ul>
 *
 * <p>Mistral's model was trained with sentencepiece ({@code tokenizer.model}). On the 1,043 golden
 * strings (1,000 PubMedQA questions, 12 mistral-tokenizer-js cases, 31 tricky strings) our
 * {@code encode} equals sentencepiece on 1,033 and transformers on all; the ten that differ are the
 * ones where transformers itself differs from sentencepiece:
 * <ul>
 *   <li>Seven texts that start with a space or {@code ▁}: sentencepiece always adds its dummy
 *       {@code ▁} prefix, Hugging Face's Metaspace adds none when the text already starts with one
 *       ({@code " grabbed"}: ours and transformers {@code [1, 13300]}, sentencepiece
 *       {@code [1, 28705, 13300]}).</li>
 *   <li>Three texts holding {@code <s>}, {@code </s>} or {@code <unk>}: control ids for us and
 *       transformers, plain text for sentencepiece.</li>
 * </ul>
 *
 * <p>{@link ai.medqa.tokenizer.Tokenizer#encodeLiteral(String, boolean)} is for text a user types
 * (chat messages): special-token strings are ordinary text there, so a user cannot end a turn or
 * forge one ({@code "</s>"} gives {@code [1, 1867, 28713, 28767]}, as sentencepiece does). It uses
 * the same Metaspace rule as {@code encode}, so it equals sentencepiece on 1,036 of the 1,043
 * strings and differs only on the seven leading-space strings (where it equals transformers).
 *
 * <h2>Decoding</h2>
 * <p>{@link ai.medqa.tokenizer.Tokenizer#decode(int[], boolean)} is transformers' {@code decode}:
 * {@code ▁} becomes a space, byte-fallback tokens {@code <0xXX>} are joined into characters (a run
 * with an invalid or incomplete byte sequence becomes one U+FFFD per byte), and one leading space is
 * removed from the start of the whole text (the encoder's prefix). {@code decode(int[])} skips
 * special tokens. Hence decode gives the text back (all 1,000 questions, through both encoders)
 * except: one leading space of a text that starts with spaces is lost, a {@code ▁} typed in the
 * text comes back as a space, and control ids made from {@code <s>}/{@code </s>} in the text are
 * skipped.
 *
 * <p>{@link ai.medqa.tokenizer.Tokenizer.StreamDecoder} turns ids into text as they are generated;
 * its output, concatenated, is always exactly {@code decode} of all the ids: it holds back the bytes
 * of a character until the character is complete and keeps the space before each word.
 */
package ai.medqa.tokenizer;
