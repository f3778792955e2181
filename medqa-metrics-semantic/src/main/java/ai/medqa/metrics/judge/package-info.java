/**
 * Answers graded by a judge model (local or OpenAI-compatible) against a rubric, with the judged
 * records read and written as JSON Lines.
 */
package ai.medqa.metrics.judge;
