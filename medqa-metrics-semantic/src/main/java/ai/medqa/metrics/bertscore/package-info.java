/**
 * BERTScore with a RoBERTa-family encoder run through DJL, as the {@code bert-score} package computes
 * it.
 */
package ai.medqa.metrics.bertscore;
