/**
 * langchain4j's {@code ChatModel} and {@code StreamingChatModel} over a MedQA engine, with tools and
 * JSON-schema responses mapped onto MedQA's constrained decoding.
 */
package ai.medqa.langchain4j;
