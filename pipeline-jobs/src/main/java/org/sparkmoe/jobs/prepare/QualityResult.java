package org.sparkmoe.jobs.prepare;

/**
 * The outcome of the quality stage for one document.
 *
 * @param text   the text after boilerplate lines were removed (what is kept)
 * @param stats  its statistics
 * @param reason why it was rejected ({@code en_too_few_words}, {@code zh_low_cjk_ratio}, ...), or null if kept
 */
public record QualityResult(String text, QualityStats stats, String reason) {

    public boolean passed() {
        return reason == null;
    }
}
