package org.sparkmoe.jobs.cli;

/**
 * Bad input that the user can fix: an unknown option, a missing path, an unreadable config, a value out of range.
 * The launcher prints the message alone (no stack trace) and exits with status 2.
 * Messages name the input, say what is wrong with it and what to do.
 */
public final class UsageException extends RuntimeException {

    public UsageException(String message) {
        super(message);
    }

    public UsageException(String message, Throwable cause) {
        super(message, cause);
    }
}
