package org.sparkmoe.jobs.prepare;

/**
 * The quality statistics written next to every document (kept and rejected after language identification).
 *
 * @param chars           characters (code points) of the cleaned text
 * @param words           whitespace-separated words (English rules) or Han/kana/Hangul characters plus Latin words
 *                        (Chinese rules); for code, lines
 * @param lines           non-blank lines
 * @param cjkRatio        Han/kana/Hangul characters over non-space characters
 * @param dupLineFraction share of non-blank lines that repeat an earlier line
 * @param boilerplateLines lines removed as boilerplate
 */
public record QualityStats(int chars, int words, int lines, double cjkRatio, double dupLineFraction,
                           int boilerplateLines) {}
