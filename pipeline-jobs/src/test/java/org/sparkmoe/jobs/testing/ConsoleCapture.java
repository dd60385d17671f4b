package org.sparkmoe.jobs.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

/**
 * What the console shows while it is open: every event log4j2 passes to its appenders under the project's
 * log4j2.properties (levels and filters applied), recorded beside the console appender, as "LEVEL logger: message".
 * System.Logger events of moe-model and tokenizer arrive through log4j-jpl like the rest.
 */
public final class ConsoleCapture implements AutoCloseable {

    private static final AtomicInteger IDS = new AtomicInteger();

    /** One recorded line; {@code millis} is when it was logged (epoch milliseconds). */
    public record Line(String level, String logger, String message, long millis) {
        @Override
        public String toString() {
            return level + " " + logger + ": " + message;
        }
    }

    private final List<Line> lines = new ArrayList<>();
    private final AbstractAppender appender;
    private final List<LoggerConfig> attached = new ArrayList<>();

    public ConsoleCapture() {
        appender = new AbstractAppender("console-capture-" + IDS.incrementAndGet(), null, null, true,
                Property.EMPTY_ARRAY) {
            @Override
            public void append(LogEvent event) {
                synchronized (lines) {
                    lines.add(new Line(event.getLevel().name(), event.getLoggerName(),
                            event.getMessage().getFormattedMessage(), event.getTimeMillis()));
                }
            }
        };
        appender.start();
        LoggerContext context = (LoggerContext) LogManager.getContext(false);
        Configuration config = context.getConfiguration();
        // The root and every logger that does not pass its events on to the root: each event is recorded once.
        attached.add(config.getRootLogger());
        for (LoggerConfig logger : config.getLoggers().values()) {
            if (!logger.isAdditive() && logger != config.getRootLogger()) {
                attached.add(logger);
            }
        }
        attached.forEach(logger -> logger.addAppender(appender, null, null));
        context.updateLoggers();
    }

    public List<Line> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    @Override
    public void close() {
        attached.forEach(logger -> logger.removeAppender(appender.getName()));
        ((LoggerContext) LogManager.getContext(false)).updateLoggers();
        appender.stop();
    }
}
