/**
 * Lexical metrics with the numbers of the libraries users compare with: {@link
 * ai.medqa.metrics.lexical.Rouge} ({@code rouge-score}), {@link ai.medqa.metrics.lexical.SacreBleu}
 * and {@link ai.medqa.metrics.lexical.NltkBleu}, {@link ai.medqa.metrics.lexical.TokenF1}; {@link
 * ai.medqa.metrics.lexical.PairScorer} scores prediction/reference pairs for {@code medqa score}.
 */
package ai.medqa.metrics.lexical;
