package org.sparkmoe.jobs.testing;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;

/**
 * Collects what a logger (and its children) logs in this JVM while the capture is open: the log lines a user would
 * see on the console, as "LEVEL message". Tasks of a local Spark run in this JVM, so their lines are caught too.
 */
public final class LogCapture implements AutoCloseable {

    private final String loggerName;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final AbstractAppender appender;

    private LogCapture(String loggerName) {
        this.loggerName = loggerName;
        this.appender = new AbstractAppender("capture-" + System.nanoTime(), null, null, true, Property.EMPTY_ARRAY) {
            @Override
            public void append(LogEvent event) {
                lines.add(event.getLevel() + " " + event.getMessage().getFormattedMessage());
            }
        };
    }

    /** Starts capturing {@code loggerName} (e.g. {@code org.sparkmoe}). */
    public static LogCapture of(String loggerName) {
        LogCapture capture = new LogCapture(loggerName);
        capture.appender.start();
        LoggerContext context = (LoggerContext) LogManager.getContext(false);
        context.getConfiguration().getLoggerConfig(loggerName).addAppender(capture.appender, Level.ALL, null);
        context.updateLoggers();
        return capture;
    }

    public List<String> lines() {
        return List.copyOf(lines);
    }

    /** How many captured lines contain {@code text}. */
    public long count(String text) {
        return lines.stream().filter(l -> l.contains(text)).count();
    }

    @Override
    public void close() {
        LoggerContext context = (LoggerContext) LogManager.getContext(false);
        context.getConfiguration().getLoggerConfig(loggerName).removeAppender(appender.getName());
        context.updateLoggers();
        appender.stop();
    }
}
