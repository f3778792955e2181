package ai.medqa.common;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a public type that is not an API, outside the {@code internal} packages: public only so that
 * another MedQA module can use it, it may change or go without notice. {@code LayeringTest} keeps
 * every other module away from it (langchain4j's {@code @Internal} serves the same purpose).
 */
@Documented
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface Internal {
    /** The modules it is public for (LayeringTest allows exactly those). */
    String[] value();
}
