package org.sparkmoe.model.testing;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import org.sparkmoe.model.backend.Backend;

/**
 * A {@link Backend} that hands every call to a test's {@link Interceptor} on its way to a real backend: to count the
 * calls, record what is allocated, or answer one call itself (e.g. {@code routesOnDevice}).
 */
public final class InterceptedBackend {

    /** Sees one call; {@code target.proceed()} passes it on to the real backend and returns its result. */
    @FunctionalInterface
    public interface Interceptor {
        Object intercept(String method, Object[] arguments, Call target) throws Throwable;
    }

    /** The call as the real backend runs it. */
    @FunctionalInterface
    public interface Call {
        Object proceed() throws Throwable;
    }

    private InterceptedBackend() {
    }

    public static Backend of(Backend target, Interceptor interceptor) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, arguments) -> interceptor.intercept(method.getName(), arguments, () -> {
                    try {
                        return method.invoke(target, arguments);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                }));
    }
}
