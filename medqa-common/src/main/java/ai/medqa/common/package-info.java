/**
 * What every module shares without DJL: {@link ai.medqa.common.MedQAException}, the base of every
 * failure MedQA reports; the one JSON mapper and field readers ({@link ai.medqa.common.Json}, {@link
 * ai.medqa.common.JsonFields}); crash-safe writes ({@link ai.medqa.common.AtomicFiles}, {@link
 * ai.medqa.common.Staging}, {@link ai.medqa.common.AppendLog}); and {@link ai.medqa.common.Seeds}.
 */
package ai.medqa.common;
