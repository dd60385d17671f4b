package org.sparkmoe.jobs.prepare;

/**
 * What {@link LanguageIdentifier} concluded about one document.
 *
 * @param lang        {@code en}, {@code zh} (Simplified or Traditional), {@code code} or {@code other}
 * @param confidence  0..1: the dominant language's share of the document times how much evidence there was
 *                    (a three-word fortune is never as certain as a chapter)
 * @param mixedness   0..1: the share of the document's language units that are NOT the dominant language
 *                    (0 = monolingual; a zh page with English paragraphs has, say, 0.3)
 * @param codeLanguage for {@code code}: {@code python}, {@code java}, ... or {@code unknown}; otherwise null
 */
public record LanguageGuess(String lang, double confidence, double mixedness, String codeLanguage) {

    public static final String EN = "en";
    public static final String ZH = "zh";
    public static final String CODE = "code";
    public static final String OTHER = "other";
}
