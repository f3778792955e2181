/**
 * An OpenAI-compatible HTTP server over a {@link ai.medqa.MedQA} ({@link
 * ai.medqa.server.MedQAServer}, configured by {@link ai.medqa.server.ServerOptions}): chat and text
 * completions (streamed or not), models and adapters, feedback votes and a chat page; loopback,
 * same-origin and validated by default.
 */
package ai.medqa.server;
