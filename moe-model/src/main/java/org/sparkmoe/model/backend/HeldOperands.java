package org.sparkmoe.model.backend;

/**
 * The scope of {@link Backend#holdOperands}: while it is open the held tensors stay unwritten, so a backend may reuse
 * what it derived from them for its GEMMs; closing it ends the promise.
 */
@FunctionalInterface
public interface HeldOperands extends AutoCloseable {

    /** A scope that holds nothing. */
    HeldOperands NONE = () -> { };

    @Override
    void close();
}
