/**
 * The statistics behind reported scores: bootstrap intervals (numpy's generator where a Python
 * result is to be matched), percentiles, correlation and summaries.
 */
package ai.medqa.metrics.stats;
