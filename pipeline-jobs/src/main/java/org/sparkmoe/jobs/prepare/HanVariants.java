package org.sparkmoe.jobs.prepare;

import com.ibm.icu.text.Transliterator;

/**
 * Traditional → Simplified Han characters, one character at a time, for dedup keys only (kept text is never
 * converted). The table is built once per JVM from ICU4J's {@code Traditional-Simplified} transform over the
 * BMP Han blocks (about 0.3 s); lookups are an array read. Phrase-level differences (資料庫 vs 数据库) are not
 * mapped: near-dedup tolerates them.
 */
final class HanVariants {

    private static final int FIRST = 0x3400;
    private static final int LAST = 0x9FFF;

    private HanVariants() {}

    private static final class Table {
        static final char[] SIMPLIFIED = build();

        private static char[] build() {
            Transliterator toSimplified = Transliterator.getInstance("Traditional-Simplified");
            char[] table = new char[LAST - FIRST + 1];
            for (int cp = FIRST; cp <= LAST; cp++) {
                table[cp - FIRST] = (char) cp;
                if (Character.UnicodeScript.of(cp) == Character.UnicodeScript.HAN) {
                    String mapped = toSimplified.transliterate(String.valueOf((char) cp));
                    if (mapped.length() == 1) {
                        table[cp - FIRST] = mapped.charAt(0);
                    }
                }
            }
            return table;
        }
    }

    /** The Simplified form of a BMP Han character; any other code point unchanged. */
    static int simplify(int cp) {
        return cp >= FIRST && cp <= LAST ? Table.SIMPLIFIED[cp - FIRST] : cp;
    }
}
