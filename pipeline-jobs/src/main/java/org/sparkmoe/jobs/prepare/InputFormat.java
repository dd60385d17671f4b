package org.sparkmoe.jobs.prepare;

import org.sparkmoe.jobs.cli.JobSettings;

/** How an input file is read ({@code input.format}). */
public enum InputFormat {
    /** Decided per file by its name: *.parquet, *.txt, else JSONL. */
    AUTO,
    /** One JSON object per line. */
    JSONL,
    /** Parquet with the configured columns. */
    PARQUET,
    /** One document per file. */
    TEXT;

    static InputFormat parse(JobSettings s) {
        String value = s.string("input.format");
        for (InputFormat f : values()) {
            if (f.name().equalsIgnoreCase(value)) {
                return f;
            }
        }
        s.require(false, "input.format", "one of auto, jsonl, parquet, text");
        return AUTO;
    }

    /** The format of one file under this setting. */
    InputFormat of(String uri) {
        if (this != AUTO) {
            return this;
        }
        String name = uri.toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".parquet")) {
            return PARQUET;
        }
        return name.endsWith(".txt") ? TEXT : JSONL;
    }
}
