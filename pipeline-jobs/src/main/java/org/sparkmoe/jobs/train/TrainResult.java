package org.sparkmoe.jobs.train;

import java.util.List;

/**
 * What a {@link RoundRunner} run ends with.
 *
 * @param params_P the final global parameters; null when the workers synchronised among themselves
 *                 ({@code sync=barrier}, {@code data-parallel}): the driver never held them, read
 *                 {@code final/parameters.f32}
 * @param rounds   the summaries of the rounds this invocation ran (after a resume: only the resumed ones)
 */
public record TrainResult(float[] params_P, List<RoundSummary> rounds) {}
