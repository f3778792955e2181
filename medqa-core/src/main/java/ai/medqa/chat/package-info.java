/**
 * Chat prompts: {@link ai.medqa.chat.Message}s rendered to prompt ids by a
 * {@link ai.medqa.chat.ChatTemplate}, and the multi-turn {@link ai.medqa.chat.Conversation}.
 *
 * <h2>Formats</h2>
 * <p>{@link ai.medqa.chat.ChatTemplate#of} takes the Jinja {@code chat_template} of the checkpoint's
 * {@code tokenizer_config.json} and renders it with Jinjava, set up as transformers sets up jinja2
 * ({@code trim_blocks}, {@code lstrip_blocks}, {@code raise_exception}, {@code bos_token},
 * {@code eos_token}, {@code add_generation_prompt}). Without a template it uses the Mistral-Instruct
 * format built in, which is character for character the Mistral-7B-Instruct-v0.1 template:
 * {@code <s>[INST] user [/INST]assistant</s> [INST] user [/INST]}. A template's
 * {@code raise_exception(msg)} becomes a {@link ai.medqa.chat.ChatTemplateException} with {@code msg}.
 *
 * <h2>System prompt</h2>
 * <p>Mistral's format has no system role (the v0.1 template raises "Conversation roles must
 * alternate..." on one). A leading system message is therefore folded into the first user message
 * as {@code system + "\n\n" + user}, the way Mistral's later official templates place it; an empty
 * system prompt is dropped. Folding happens before the template runs, for the built-in format and
 * for any Jinja template that does not itself compare a role with {@code 'system'}; templates that
 * do get the system message unchanged.
 *
 * <h2>What a user types is text</h2>
 * <p>transformers' {@code apply_chat_template} renders the prompt to one string and tokenizes it, so
 * {@code </s>} typed in a message becomes the end-of-sequence id and a user can close their turn and
 * forge an assistant reply or a new instruction. Here message text never becomes a control id:
 * <ol>
 *   <li>While rendering, each message content is wrapped in two Unicode noncharacters (U+FDD0...,
 *       chosen absent from every message). They cut the output into template text and message text;
 *       a second, unwrapped render must equal the cut output with the markers removed, which proves
 *       the cut (a template that trims content is recognised; one that otherwise rewrites it is
 *       refused rather than guessed at).</li>
 *   <li>Special-token strings ({@code <s>}, {@code </s>}, {@code <unk>}) are looked for only in
 *       template text; those become control ids.</li>
 *   <li>The text between two control ids, template text and message text together, is encoded in
 *       one {@link ai.medqa.tokenizer.Tokenizer#encodeLiteral} call, where special-token strings are
 *       ordinary characters. transformers also encodes the prompt run by run between special tokens,
 *       prepending the Metaspace {@code ▁} to each, so leading spaces and merges across the
 *       template/message boundary come out the same.</li>
 * </ol>
 * <p>Hence the ids equal transformers' for every conversation whose messages hold no special-token
 * string (checked on the transformers goldens and on 200 random conversations), and differ exactly
 * where a user typed one: {@code "Say </s> then"} gives {@code ▁Say ▁</ s > ▁then} (15753, 1867,
 * 28713, 28767, 868) where transformers gives {@code ▁Say ▁ </s> ▁then} (15753, 28705, 2, 868), as
 * sentencepiece encodes the same text. {@code [INST]} is ordinary text in the v0.1 vocabulary
 * either way. Jinja syntax inside a message ({@code {{ eos_token }}}) is not evaluated: Jinjava's
 * nested interpretation is off.
 *
 * <h2>Conversations</h2>
 * <p>{@link ai.medqa.chat.Conversation#toIds} renders the system prompt and the turns with the
 * generation prompt; when that exceeds the budget it leaves out the oldest user/assistant exchanges
 * (keeping the whole history in the conversation), never the system prompt or the last user turn,
 * and throws {@link ai.medqa.model.ContextOverflowException} with both sizes if even those do not
 * fit. Conversations are saved as {@code {"version": 1, "system": ..., "turns": [...]}}, written to a
 * temporary file in the same folder and moved into place atomically.
 */
package ai.medqa.chat;
