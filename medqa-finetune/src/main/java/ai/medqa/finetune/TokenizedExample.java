package ai.medqa.finetune;

/**
 * Token ids of one example, {@code BOS prompt completion EOS}; the loss covers {@code ids[promptLength..]}.
 */
record TokenizedExample(String id, int[] ids, int promptLength, boolean truncated, boolean answerTruncated) {
    TokenizedExample {
        if (promptLength < 1 || promptLength >= ids.length) {
            throw new IllegalArgumentException(id + ": prompt length " + promptLength + " of " + ids.length
                    + " tokens leaves no completion token");
        }
    }

    int targets() {
        return ids.length - promptLength;
    }
}
