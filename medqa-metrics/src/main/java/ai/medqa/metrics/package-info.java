/**
 * Scoring without a model (no DJL): {@code lexical} (ROUGE, BLEU, token F1 as the Python libraries
 * compute them), {@code pubmedqa} (the dataset, its labels and answer extraction), {@code stats}
 * (bootstrap, percentiles, correlation) and {@code report} (evaluation results and charts). {@link
 * ai.medqa.metrics.MetricsException} is their failure.
 */
package ai.medqa.metrics;
