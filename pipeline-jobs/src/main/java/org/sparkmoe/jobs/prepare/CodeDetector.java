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

    /** Line starts that are code: keywords, block punctuation, shebang, annotations (matched with lookingAt). */
    private static final Pattern CODE_START = Pattern.compile(
            "\\s*(?:"
                    + "(?:import|from|def|class|return|raise|elif|else|try|except|finally|with|yield|async|await"
                    + "|public|private|protected|static|final|package|throws|switch|case|break|continue"
                    + "|sub|my|our|use|require|foreach|unless|local"
                    + "|function|var|let|const|#include|#define|#ifn?def|#endif|fi|done|esac)\\b"
                    + "|(?:if|for|while|catch)\\s*\\("
                    + "|(?:if|for|while)\\b.*:\\s*$"
                    + "|[}{)\\]]"
                    + "|#!|@\\w+\\s*(?:\\(|$)"
                    + "|[\\w.\\[\\]$@%]+\\s*(?:[-+*/.|&]?=|=>|->)\\s*\\S"
                    + ")");

    /** Lines examined at most: the head of a file decides, and a long chapter costs no more than a short one. */
    static final int MAX_LINES = 400;

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
        while (start < n && lines < MAX_LINES) {
            int end = text.indexOf('\n', start);
            if (end < 0) {
                end = n;
            }
            if (end > start && !NEUTRAL_LINE.matcher(text).region(start, end).lookingAt()) {
                lines++;
                if (isCodeLine(text, start, end)) {
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

    /** Statement or block punctuation at the end, a call at the end, or a code-like start. */
    private static boolean isCodeLine(String text, int start, int end) {
        int last = end - 1;
        while (last >= start && Character.isWhitespace(text.charAt(last))) {
            last--;
        }
        if (last < start) {
            return false;
        }
        char c = text.charAt(last);
        if (c == ';' || c == '{' || c == '}') {
            return true;
        }
        if (c == ')' || (c == ':' && last > start && text.charAt(last - 1) == ')')) {
            // A call at the end of the line: an identifier character right before its opening parenthesis.
            int open = text.lastIndexOf('(', last);
            if (open > start && isIdentifierChar(text.charAt(open - 1))) {
                return true;
            }
        }
        return CODE_START.matcher(text).region(start, end).lookingAt();
    }

    private static boolean isIdentifierChar(char c) {
        return c < 128 && (Character.isLetterOrDigit(c) || c == '_');
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
