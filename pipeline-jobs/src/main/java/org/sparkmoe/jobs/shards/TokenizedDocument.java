package org.sparkmoe.jobs.shards;

import java.io.Serializable;

/**
 * A document after tokenization, as it travels through the tokenize job.
 *
 * @param id         the prepare job's id
 * @param lang       en | zh | code | other
 * @param validation whether {@link SplitAssigner} put it in the validation split
 * @param tokens     token ids with BOS (when configured) and EOS
 */
record TokenizedDocument(String id, String lang, boolean validation, int[] tokens) implements Serializable {}
