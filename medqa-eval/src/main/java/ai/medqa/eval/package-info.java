/**
 * PubMedQA evaluation of a model: likelihood scoring and generation runs ({@link
 * ai.medqa.eval.Evaluation}, resumable after a crash), grids of generation settings ({@link
 * ai.medqa.eval.ParameterGrid}), and the comparison of two runs.
 */
package ai.medqa.eval;
