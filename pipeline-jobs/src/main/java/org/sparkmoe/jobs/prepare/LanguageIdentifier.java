package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Language identification without a downloaded model: Unicode script statistics, then stop-word evidence to tell
 * English from other Latin-script languages, and {@link CodeDetector} for source code. The source's language hint
 * is never consulted.
 *
 * <p>Method (docs/prepare.md has the measured accuracy):
 * <ol>
 *   <li>code first: a document whose lines mostly look like code is {@code code};</li>
 *   <li>count "language units": each Han / kana / Hangul character is one unit; each run of letters of an
 *       alphabetic script (Latin, Cyrillic, Greek, Arabic, ...) is one word worth {@link #WORD_UNITS} units, because
 *       an English word carries about as much text as 1.5 Chinese characters (and takes 2 in UTF-8 bytes);</li>
 *   <li>Han characters are {@code zh} (Simplified and Traditional alike) unless kana make up more than
 *       {@link #KANA_SHARE_FOR_JAPANESE} of the CJK characters (Japanese); kana and Hangul are {@code other};</li>
 *   <li>Latin words are split between {@code en} and {@code other} by stop-word rates: the share of words that are
 *       English function words against the best rate of seven other Latin-script languages. Words without any
 *       stop-word evidence count as English only if they carry no non-ASCII letters;</li>
 *   <li>the dominant language wins; confidence = its unit share × (1 − e^(−units/8)); mixedness = 1 − its share.</li>
 * </ol>
 */
public final class LanguageIdentifier implements Serializable {

    static final double WORD_UNITS = 1.5;
    static final double KANA_SHARE_FOR_JAPANESE = 0.1;
    private static final double EVIDENCE_SCALE = 8.0;

    private static final Set<String> ENGLISH = Set.of(
            "the", "be", "to", "of", "and", "a", "in", "that", "have", "i", "it", "for", "not", "on", "with", "he",
            "as", "you", "do", "at", "this", "but", "his", "by", "from", "they", "we", "say", "her", "she", "or",
            "an", "will", "my", "one", "all", "would", "there", "their", "what", "so", "up", "out", "if", "about",
            "who", "get", "which", "go", "me", "when", "make", "can", "like", "no", "just", "him", "know", "take",
            "is", "are", "was", "were", "been", "has", "had", "its", "than", "then", "them", "these", "those",
            "into", "your", "our", "should", "could", "may", "must", "any", "each", "other", "some", "such", "only",
            "also", "how", "more", "most", "very", "use", "used", "using", "file", "files", "see", "following");

    /**
     * Function words of other Latin-script languages (the corpus's de, es, it, fr, nl, and the tldr locales),
     * with English homographs removed.
     */
    private static final Map<String, Set<String>> OTHER_LATIN = Map.ofEntries(
            Map.entry("de", Set.of("der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "den", "mit",
                    "sich", "des", "auf", "für", "dem", "von", "auch", "es", "wird", "sie", "ich", "du", "wenn",
                    "oder", "aus", "bei", "nur", "noch", "wie", "werden", "kann", "einen", "dass", "daß", "sind",
                    "wir", "er", "mich", "mir", "dich", "ihr", "ihm", "ihn", "sein", "haben",
                    "aber", "nach", "über", "vor", "zum", "zur", "im", "um", "als", "wer", "wo",
                    "hallo", "immer", "nie", "kein", "keine", "schon", "sehr", "mehr", "ohne", "durch", "gegen")),
            Map.entry("fr", Set.of("le", "la", "les", "et", "des", "est", "une", "du", "que", "pas", "pour",
                    "dans", "qui", "sur", "au", "avec", "il", "ce", "ne", "se", "vous", "sont", "elle", "nous",
                    "aux", "un", "de", "mais", "ou", "être", "fichier", "cette", "leur", "je", "tu", "ils", "mon",
                    "ma", "mes", "sa", "ses", "tout", "bien", "fait", "comme", "où", "très")),
            Map.entry("es", Set.of("el", "la", "los", "las", "y", "del", "que", "en", "es", "por", "para", "con",
                    "una", "se", "lo", "como", "más", "mas", "pero", "su", "al", "un", "o", "este", "esta", "sus",
                    "archivo", "ya", "muy", "de", "mi", "tu", "yo", "hay", "ser", "quien", "cuando", "sin",
                    "sobre", "todo", "porque", "nunca", "siempre", "nos", "le", "les", "si", "sólo", "solo", "ni")),
            Map.entry("it", Set.of("il", "di", "che", "è", "e'", "per", "una", "sono", "della", "del", "non", "si",
                    "gli", "le", "con", "da", "nel", "alla", "un", "questo", "anche", "come", "più", "piu'", "ma",
                    "lo", "la", "dei", "delle", "nella", "mi", "ti", "ci", "vi", "io", "tu", "lui", "lei", "noi",
                    "voi", "loro", "quando", "perché", "perche'", "cosa", "tutto", "sempre", "mai", "dove")),
            Map.entry("nl", Set.of("de", "het", "een", "en", "van", "niet", "op", "te", "dat", "die",
                    "met", "voor", "er", "maar", "ook", "naar", "bij", "als", "ik", "je", "hij", "wordt",
                    "bestand", "zijn", "uit", "dit", "deze", "wat", "wie", "hoe", "geen", "nog", "al", "wel", "zo", "zou",
                    "heeft", "hebben", "werd", "door", "aan", "om", "tot", "dan", "mijn", "haar")),
            Map.entry("pt", Set.of("o", "os", "e", "da", "que", "em", "um", "uma", "para", "com",
                    "não", "por", "se", "na", "mais", "dos", "das", "ao", "ou", "arquivo", "como", "é",
                    "seu", "sua", "mas", "ele", "ela", "isso", "este", "esta", "quando", "muito", "já")),
            Map.entry("id", Set.of("yang", "dan", "di", "ini", "itu", "dengan", "untuk", "dari", "dalam", "tidak",
                    "ke", "akan", "pada", "atau", "berkas", "sebuah", "adalah", "dapat", "menggunakan", "perintah",
                    "tampilkan", "dokumentasi", "asli")),
            Map.entry("nordic", Set.of("og", "er", "det", "en", "et", "af", "av", "til", "på", "med", "som",
                    "ikke", "den", "har", "jeg", "fra", "kommando", "kommandoen", "denne", "dette", "och", "att",
                    "inte", "är", "för", "vis", "se")),
            Map.entry("pl", Set.of("w", "nie", "na", "się", "z", "jest", "że", "od", "dla",
                    "polecenie", "pliku", "plik", "wyświetl", "dokumentację", "oryginalnego", "lub", "po")),
            Map.entry("tr", Set.of("bir", "ve", "bu", "için", "ile", "da", "de", "komut", "komutun", "görüntüleyin",
                    "dosya", "olarak", "takma", "addır", "asıl", "belgelerini")),
            Map.entry("other", Set.of("ja", "ei", "tämä", "komennolle", "näytä", "se", "na", "příkaz",
                    "una", "aquest", "és", "del", "bu", "va", "ushbu", "este", "sunt", "și", "pentru",
                    "ova", "je", "za", "ovo", "naredba", "komanda")));

    /** Word → bit set of the languages (indexes into {@link #OTHER_LANGUAGES}) whose list holds it: one lookup per word. */
    private static final List<String> OTHER_LANGUAGES = OTHER_LATIN.keySet().stream().sorted().toList();
    private static final Map<String, Integer> OTHER_LATIN_BITS = otherLatinBits();

    private static Map<String, Integer> otherLatinBits() {
        Map<String, Integer> bits = new java.util.HashMap<>();
        for (int i = 0; i < OTHER_LANGUAGES.size(); i++) {
            for (String w : OTHER_LATIN.get(OTHER_LANGUAGES.get(i))) {
                bits.merge(w, 1 << i, (a, b) -> a | b);
            }
        }
        return Map.copyOf(bits);
    }

    private final CodeDetector codeDetector;

    public LanguageIdentifier(CodeDetector codeDetector) {
        this.codeDetector = codeDetector;
    }

    public LanguageGuess identify(String text) {
        Optional<CodeDetector.Code> code = codeDetector.detect(text);
        if (code.isPresent()) {
            return new LanguageGuess(LanguageGuess.CODE, code.get().codeLineFraction(), 0.0, code.get().language());
        }
        ScriptCounts counts = ScriptCounts.of(text);
        double han = counts.han();
        double kana = counts.kana();
        double zhUnits;
        double otherUnits = counts.hangul() + WORD_UNITS * counts.otherAlphabeticWords();
        if (kana > KANA_SHARE_FOR_JAPANESE * (han + kana)) {
            zhUnits = 0;
            otherUnits += han + kana;
        } else {
            zhUnits = han;
            otherUnits += kana;
        }
        double englishShare = englishShareOfLatin(counts);
        double enUnits = WORD_UNITS * counts.latinWordCount() * englishShare;
        otherUnits += WORD_UNITS * counts.latinWordCount() * (1 - englishShare);
        double total = enUnits + zhUnits + otherUnits;
        if (total == 0) {
            return new LanguageGuess(LanguageGuess.OTHER, 0.0, 0.0, null);
        }
        String lang;
        double units;
        if (zhUnits >= enUnits && zhUnits >= otherUnits) {
            lang = LanguageGuess.ZH;
            units = zhUnits;
        } else if (enUnits >= otherUnits) {
            lang = LanguageGuess.EN;
            units = enUnits;
        } else {
            lang = LanguageGuess.OTHER;
            units = otherUnits;
        }
        double share = units / total;
        double evidence = 1 - Math.exp(-units / EVIDENCE_SCALE);
        return new LanguageGuess(lang, share * evidence, 1 - share, null);
    }

    /** The fraction of the Latin-script words that are English, from stop-word rates and diacritics. */
    static double englishShareOfLatin(ScriptCounts counts) {
        List<String> words = counts.latinWords();
        if (words.isEmpty()) {
            return 0.0;
        }
        int english = 0;
        int[] other = new int[OTHER_LANGUAGES.size()];
        for (String w : words) {
            if (ENGLISH.contains(w)) {
                english++;
            }
            Integer bits = OTHER_LATIN_BITS.get(w);
            if (bits != null) {
                for (int i = 0; i < other.length; i++) {
                    other[i] += (bits >>> i) & 1;
                }
            }
        }
        int bestOther = 0;
        for (int c : other) {
            bestOther = Math.max(bestOther, c);
        }
        if (english + bestOther == 0) {
            // No function words at all (a command list, a title): ASCII letters read as English, accents do not.
            return counts.nonAsciiLatinLetters() > 0.02 * counts.latinLetters() ? 0.0 : 1.0;
        }
        if (counts.nonAsciiLatinLetters() > 0.03 * counts.latinLetters()) {
            // English almost never needs accented letters; many stop words are shared, so accents break ties.
            bestOther += Math.max(1, english / 4);
        }
        if (english == bestOther) {
            // A tie in a short text (one "a" against one "la") is no evidence for English.
            return 0.4;
        }
        return (double) english / (english + bestOther);
    }
}
