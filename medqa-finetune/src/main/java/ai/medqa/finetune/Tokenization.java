package ai.medqa.finetune;

import ai.medqa.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Examples to token ids with the prompt/completion boundary, and truncation to a maximum length.
 *
 * <p>The prompt and the whole text are tokenized separately and the boundary is their longest common
 * prefix: SentencePiece may merge the last prompt character with the first of the answer, and
 * tokenizing the two halves apart would give ids the model never sees at inference time (TRL finds
 * the boundary the same way).
 */
final class Tokenization {
    private Tokenization() {}

    record Result(List<TokenizedExample> examples, DataStats stats) {}

    static Result tokenize(Tokenizer tokenizer, PromptTemplate template, List<Example> examples, int maxLength) {
        if (maxLength < 8) {
            throw new IllegalArgumentException("max length " + maxLength + " is too short; expected >= 8");
        }
        List<TokenizedExample> out = new ArrayList<>(examples.size());
        int truncated = 0;
        int answerCut = 0;
        long tokens = 0;
        long targets = 0;
        int longest = 0;
        for (Example e : examples) {
            TokenizedExample t = tokenize(tokenizer, template.render(e), e.id(), maxLength);
            out.add(t);
            truncated += t.truncated() ? 1 : 0;
            answerCut += t.answerTruncated() ? 1 : 0;
            tokens += t.ids().length;
            targets += t.targets();
            longest = Math.max(longest, t.ids().length);
        }
        return new Result(out, new DataStats(out.size(), truncated, answerCut, tokens, targets, longest));
    }

    static TokenizedExample tokenize(Tokenizer tok, PromptTemplate.Rendered r, String id, int maxLength) {
        String prompt = r.prompt();
        int[] text = tok.encodeLiteral(prompt + r.completion(), true);
        int[] full = Arrays.copyOf(text, text.length + 1);
        full[text.length] = tok.eosId();
        int promptLen = commonPrefix(tok.encodeLiteral(prompt, true), full);
        if (promptLen >= full.length - 1 && !r.completion().isEmpty()) {
            // Cannot happen with SentencePiece (a non-empty completion adds a piece), but never let EOS be all.
            promptLen = Math.min(promptLen, full.length - 2);
        }
        promptLen = Math.max(1, Math.min(promptLen, full.length - 1));
        if (full.length <= maxLength) {
            return new TokenizedExample(id, full, promptLen, false, false);
        }
        // 1. Shorten the contexts (keep their beginning: the background of an abstract).
        int excess = full.length - maxLength;
        int[] ids = full;
        if (!r.contexts().isEmpty()) {
            int start = commonPrefix(tok.encodeLiteral(r.head(), true), full);
            int end = Math.max(
                    start, Math.min(promptLen, commonPrefix(tok.encodeLiteral(r.head() + r.contexts(), true), full)));
            int cut = Math.min(excess, end - start);
            ids = remove(ids, end - cut, end);
            promptLen -= cut;
            excess -= cut;
        }
        // 2. Drop the prompt's beginning (after BOS), keeping its end (the question and the cue for the
        //    answer) and at least a quarter of the length for it.
        int floor = Math.min(promptLen, Math.max(2, maxLength / 4));
        if (excess > 0) {
            int cut = Math.min(excess, promptLen - floor);
            ids = remove(ids, 1, 1 + cut);
            promptLen -= cut;
            excess -= cut;
        }
        // 3. Only now cut the answer, from its end.
        boolean answerCut = excess > 0;
        if (answerCut) {
            ids = Arrays.copyOf(ids, ids.length - excess);
        }
        return new TokenizedExample(id, ids, promptLen, true, answerCut);
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }

    private static int[] remove(int[] ids, int from, int to) {
        if (from == to) {
            return ids;
        }
        int[] out = new int[ids.length - (to - from)];
        System.arraycopy(ids, 0, out, 0, from);
        System.arraycopy(ids, to, out, from, ids.length - to);
        return out;
    }
}
