package org.sparkmoe.jobs.refresh;

import java.util.List;

/**
 * What a refresh has to do: the input files that are new or changed since the current dataset version, and the
 * fingerprints of every input as the next version will record them.
 *
 * @param changed  files to run through prepare (new, or contents changed)
 * @param all      fingerprints of every input file known after this refresh: the current version's plus the
 *                 changed ones (refreshed metadata for touched-but-unchanged files)
 */
public record ChangeSet(List<InputFingerprint> changed, List<InputFingerprint> all) {

    public ChangeSet {
        changed = List.copyOf(changed);
        all = List.copyOf(all);
    }

    public boolean isEmpty() {
        return changed.isEmpty();
    }
}
