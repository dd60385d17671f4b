package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Recognises source code: a document is code when at least {@code minCodeLineFraction} of its non-blank,
 * non-comment lines look like code (statement or block punctuation at the end, a keyword at the start, comment markers, assignments
 * between identifiers) and it has at least {@code minLines} such lines. Prose with a few embedded commands
 * (tldr pages, man pages, Debian docs) stays below the fraction.
 *
 * <p>The language guess is by the strongest of a few unmistakable markers per language, for the code keep-list.
 */
public final class CodeDetector implements Serializable {

    /** A detection: the guessed language ({@code python}, {@code java}, ... or {@code unknown}) and the evidence. */
    public record Code(String language, double codeLineFraction) {}

    private static final Pattern CODE_LINE = Pattern.compile(
            "^\\s*(?:"
                    + "(?:import|from|def|class|return|raise|elif|else|try|except|finally|with|yield|async|await"
                    + "|public|private|protected|static|final|package|throws|switch|case|break|continue"
                    + "|sub|my|our|use|require|foreach|unless|local"
                    + "|function|var|let|const|#include|#define|#ifn?def|#endif|fi|done|esac)\\b"
                    + "|(?:if|for|while|catch)\\s*\\("
                    + "|(?:if|for|while)\\b.*:\\s*$"
                    + "|[}{)\\]]"
                    + "|#!|@\\w+\\s*(?:\\(|$)"
                    + ")"
                    + "|[;{}]\\s*$"
                    + "|^\\s*[\\w.\\[\\]$@%]+\\s*(?:[-+*/.|&]?=|=>|->)\\s*\\S"
                    + "|\\w\\([^()]*\\)\\s*[:;{]?\\s*$");

    /** Comment and bullet lines: counted neither as code nor as prose (javadoc and "* item" look alike). */
    private static final Pattern NEUTRAL_LINE = Pattern.compile("^\\s*(?://|/\\*|\\*|#(?!include|define|if|endif|!))");

    private static final Pattern PYTHON = Pattern.compile("(?m)^\\s*(?:def \\w+\\(.*\\):|import \\w+$|from [\\w.]+ import |class \\w+(?:\\(.*\\))?:)");
    private static final Pattern JAVA = Pattern.compile("(?m)^\\s*(?:package [\\w.]+;|import (?:static )?[\\w.*]+;|(?:public|private|protected) (?:static |final |abstract )*[\\w<>\\[\\], ]+ \\w+\\()");
    private static final Pattern PERL = Pattern.compile("(?m)^\\s*(?:use (?:strict|warnings|vars|constant|[A-Z][\\w:]*)[ ;]|sub \\w+\\s*\\{|my [$@%]\\w+|=head\\d|=cut$)");
    private static final Pattern C = Pattern.compile("(?m)^\\s*(?:#include [<\"]|#define \\w+|(?:static )?(?:int|void|char|unsigned|struct \\w+) \\*?\\w+\\()");
    private static final Pattern SHELL = Pattern.compile("(?m)^(?:#!/bin/(?:ba)?sh|\\s*(?:fi|done|esac)$|\\s*(?:if|while) \\[)");
    private static final Pattern JAVASCRIPT = Pattern.compile("(?m)^\\s*(?:const \\w+ = |let \\w+ = |function \\w+\\(|module\\.exports|export (?:default|const|function))");

    private final double minCodeLineFraction;
    private final int minLines;

    public CodeDetector(double minCodeLineFraction, int minLines) {
        this.minCodeLineFraction = minCodeLineFraction;
        this.minLines = minLines;
    }

    public Optional<Code> detect(String text) {
        int lines = 0;
        int codeLines = 0;
        int start = 0;
        int n = text.length();
        while (start < n) {
            int end = text.indexOf('\n', start);
            if (end < 0) {
                end = n;
            }
            if (end > start && !NEUTRAL_LINE.matcher(text).region(start, end).lookingAt()) {
                lines++;
                if (CODE_LINE.matcher(text).region(start, end).find()) {
                    codeLines++;
                }
            }
            start = end + 1;
        }
        if (codeLines < minLines || codeLines < minCodeLineFraction * lines) {
            return Optional.empty();
        }
        return Optional.of(new Code(language(text), (double) codeLines / lines));
    }

    static String language(String text) {
        String best = "unknown";
        int bestCount = 0;
        String[] names = {"python", "java", "perl", "c", "shell", "javascript"};
        Pattern[] markers = {PYTHON, JAVA, PERL, C, SHELL, JAVASCRIPT};
        for (int i = 0; i < names.length; i++) {
            int count = (int) markers[i].matcher(text).results().limit(1000).count();
            if (count > bestCount) {
                best = names[i];
                bestCount = count;
            }
        }
        return best;
    }
}
