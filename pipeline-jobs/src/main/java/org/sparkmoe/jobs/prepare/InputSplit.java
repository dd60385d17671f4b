package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.sparkmoe.jobs.io.InputFiles.InputFile;

/**
 * A byte range of one input file, read by one Spark task. JSONL files are cut every {@code input.split-bytes};
 * a split reads the lines that START inside [start, end), so a line crossing a boundary is read exactly once.
 * Text files are never cut (a file is one document).
 */
public record InputSplit(String uri, long fileLength, long start, long end, InputFormat format)
        implements Serializable {

    static List<InputSplit> of(List<InputFile> files, InputFormat setting, long splitBytes) {
        List<InputSplit> splits = new ArrayList<>();
        for (InputFile f : files) {
            InputFormat format = setting.of(f.uri());
            if (format == InputFormat.PARQUET) {
                continue;
            }
            if (format == InputFormat.TEXT || f.length() <= splitBytes) {
                splits.add(new InputSplit(f.uri(), f.length(), 0, Math.max(1, f.length()), format));
                continue;
            }
            for (long start = 0; start < f.length(); start += splitBytes) {
                splits.add(new InputSplit(f.uri(), f.length(), start, Math.min(f.length(), start + splitBytes), format));
            }
        }
        return splits;
    }
}
