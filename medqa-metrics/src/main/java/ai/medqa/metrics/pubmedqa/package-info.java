/**
 * PubMedQA: its expert-labelled items ({@link ai.medqa.metrics.pubmedqa.PubMedQaLoader}), splits,
 * yes/no/maybe labels, the answer extracted from a generated text and the classification scores.
 */
package ai.medqa.metrics.pubmedqa;
