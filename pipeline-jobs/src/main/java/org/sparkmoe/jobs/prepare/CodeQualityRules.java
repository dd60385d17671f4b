package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.List;
import java.util.Set;

/**
 * What code is kept: the keep-list of languages ({@code quality.code.keep-languages}; empty keeps none) and a
 * guard against minified or generated files (very long lines).
 */
public final class CodeQualityRules implements Serializable {

    private final Set<String> keepLanguages;
    private final int minLines;
    private final int maxLineLength;

    public CodeQualityRules(List<String> keepLanguages, int minLines, int maxLineLength) {
        this.keepLanguages = Set.copyOf(keepLanguages);
        this.minLines = minLines;
        this.maxLineLength = maxLineLength;
    }

    /** The reason the code document is rejected, or null. */
    public String check(String codeLanguage, List<String> lines) {
        if (!keepLanguages.contains(codeLanguage)) {
            return "code_not_in_keep_list";
        }
        if (lines.size() < minLines) {
            return "code_too_few_lines";
        }
        for (String line : lines) {
            if (line.length() > maxLineLength) {
                return "code_long_lines";
            }
        }
        return null;
    }
}
