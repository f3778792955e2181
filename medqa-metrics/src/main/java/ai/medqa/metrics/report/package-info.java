/**
 * An evaluation's results as files: {@link ai.medqa.metrics.report.EvaluationResult}, the reports
 * written from it and score charts.
 */
package ai.medqa.metrics.report;
