package ai.medqa.metrics.judge;

import java.util.Objects;
import java.util.OptionalDouble;

/**
 * What a judge said about one answer.
 *
 * @param status whether the reply held a usable rating
 * @param statedRating the number the judge wrote after {@code Total rating:}, even out of range;
 *     empty when it wrote none
 * @param feedback the judge's rationale (the text after {@code Evaluation:}); empty when there is none
 * @param rawOutput the judge's reply as received, for auditing
 */
public record JudgeVerdict(Status status, OptionalDouble statedRating, String feedback, String rawOutput) {

    /** Whether a reply can be used as a rating. */
    public enum Status {
        /** A number within the scale followed {@code Total rating:}. */
        OK,
        /** No {@code Total rating:} with a number after it: reported, never guessed from other text. */
        MISSING_RATING,
        /** The judge wrote a number outside the scale (e.g. 5 on a 1-4 scale). */
        OUT_OF_RANGE
    }

    public JudgeVerdict {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(statedRating, "statedRating");
        Objects.requireNonNull(feedback, "feedback");
        Objects.requireNonNull(rawOutput, "rawOutput");
        if ((status == Status.MISSING_RATING) == statedRating.isPresent()) {
            throw new IllegalArgumentException("status " + status + " with statedRating " + statedRating);
        }
    }

    /** The rating when it is usable ({@link Status#OK}), otherwise empty. */
    public OptionalDouble rating() {
        return status == Status.OK ? statedRating : OptionalDouble.empty();
    }

    public boolean isRated() {
        return status == Status.OK;
    }
}
