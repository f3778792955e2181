/**
 * Spring AI's {@code ChatModel} (and streaming) over a MedQA engine, with {@link
 * ai.medqa.springai.MedQAChatOptions} for MedQA's own settings.
 */
package ai.medqa.springai;
