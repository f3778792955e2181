package ai.medqa.architecture;

import static com.tngtech.archunit.base.DescribedPredicate.describe;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.methods;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.common.Internal;
import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethod;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of the modules as rules on their bytecode (ArchUnit): which module may use which,
 * that the packages form no cycle, and which modules stay free of DJL (and so of native code). A
 * module is recognised by its packages (no package is split between two modules).
 */
class LayeringTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importEveryModule() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("ai.medqa");
    }

    private static DescribedPredicate<JavaClass> module(String name, String regex) {
        Pattern p = Pattern.compile(regex);
        return describe(name, c -> p.matcher(c.getName()).matches());
    }

    private static final DescribedPredicate<JavaClass> COMMON = module("medqa-common", "ai\\.medqa\\.(common|io)\\..*");
    private static final DescribedPredicate<JavaClass> CORE =
            module("medqa-core", "ai\\.medqa\\.([A-Za-z$_]+|(chat|generate|lora|model|quant|tokenizer)\\..*)");
    private static final DescribedPredicate<JavaClass> METRICS =
            module("medqa-metrics", "ai\\.medqa\\.metrics\\.(?!bertscore\\.|judge\\.).*");
    private static final DescribedPredicate<JavaClass> METRICS_SEMANTIC =
            module("medqa-metrics-semantic", "ai\\.medqa\\.metrics\\.(bertscore|judge)\\..*");

    @Test
    void everyModuleIsFoundByItsPackages() {
        // A rule over a layer that matches nothing checks nothing: each must hold classes.
        for (DescribedPredicate<JavaClass> m : new DescribedPredicate[] {COMMON, CORE, METRICS, METRICS_SEMANTIC}) {
            assertThat(classes.that(m)).as(m.getDescription()).isNotEmpty();
        }
        for (String p : new String[] {
            "finetune", "eval", "server", "langchain4j", "springai", "spring.boot", "spark", "examples.cli"
        }) {
            assertThat(classes.stream().anyMatch(c -> c.getPackageName().startsWith("ai.medqa." + p)))
                    .as("classes of ai.medqa.%s", p)
                    .isTrue();
        }
    }

    /** Each module uses only the modules below it: the engine never knows who serves it. */
    @Test
    void modulesDependInwardOnly() {
        layeredArchitecture()
                .consideringOnlyDependenciesInLayers()
                .layer("common")
                .definedBy(COMMON)
                .layer("core")
                .definedBy(CORE)
                .layer("metrics")
                .definedBy(METRICS)
                .layer("metrics-semantic")
                .definedBy(METRICS_SEMANTIC)
                .layer("finetune")
                .definedBy("ai.medqa.finetune..")
                .layer("eval")
                .definedBy("ai.medqa.eval..")
                .layer("server")
                .definedBy("ai.medqa.server..")
                .layer("langchain4j")
                .definedBy("ai.medqa.langchain4j..")
                .layer("spring-ai")
                .definedBy("ai.medqa.springai..")
                .layer("spring-boot-starter")
                .definedBy("ai.medqa.spring.boot..")
                .layer("spark")
                .definedBy("ai.medqa.spark..")
                .layer("cli")
                .definedBy("ai.medqa.examples..")
                .whereLayer("common")
                .mayNotAccessAnyLayer()
                .whereLayer("core")
                .mayOnlyAccessLayers("common")
                .whereLayer("metrics")
                .mayOnlyAccessLayers("common")
                .whereLayer("metrics-semantic")
                .mayOnlyAccessLayers("common", "metrics")
                .whereLayer("finetune")
                .mayOnlyAccessLayers("common", "core", "metrics")
                .whereLayer("eval")
                .mayOnlyAccessLayers("common", "core", "metrics")
                .whereLayer("server")
                .mayOnlyAccessLayers("common", "core")
                .whereLayer("langchain4j")
                .mayOnlyAccessLayers("common", "core")
                .whereLayer("spring-ai")
                .mayOnlyAccessLayers("common", "core")
                .whereLayer("spring-boot-starter")
                .mayOnlyAccessLayers("common", "core", "spring-ai")
                .whereLayer("spark")
                .mayOnlyAccessLayers("common", "core", "metrics", "eval")
                .whereLayer("cli")
                .mayOnlyAccessLayers("common", "core", "metrics", "metrics-semantic", "finetune", "eval", "server")
                .check(classes);
    }

    /** No two packages use each other, directly or around a loop. */
    @Test
    void packagesFormNoCycle() {
        slices().matching("ai.medqa.(**)").should().beFreeOfCycles().check(classes);
    }

    /**
     * medqa-common and medqa-metrics run without native code (lexical metrics, reports, readers);
     * the integrations reach PyTorch only through core's API.
     */
    @Test
    void commonMetricsAndIntegrationsAreFreeOfDjl() {
        noClasses()
                .that(COMMON.or(METRICS))
                .should()
                .dependOnClassesThat()
                .resideInAPackage("ai.djl..")
                .because("medqa-common and medqa-metrics must run without DJL or native code")
                .check(classes);
        noClasses()
                .that()
                .resideInAnyPackage(
                        "ai.medqa.server..", "ai.medqa.langchain4j..", "ai.medqa.springai..", "ai.medqa.spark..")
                .should()
                .dependOnClassesThat()
                .resideInAPackage("ai.djl..")
                .because("integrations use the engine through medqa-core's API")
                .check(classes);
    }

    /**
     * medqa-core's {@code internal} packages (the fused step, the kernels) are not an API: other
     * modules use what core's API packages offer, so those internals can change freely. (The
     * benchmarks, which measure the kernels themselves, are not imported here.)
     */
    @Test
    void onlyCoreReachesItsInternals() {
        noClasses()
                .that(CORE.negate())
                .should()
                .dependOnClassesThat()
                .resideInAPackage("ai.medqa..internal..")
                .because("internal packages are medqa-core's own")
                .check(classes);
    }

    /**
     * A type marked {@link Internal} is used only by its own module and the modules its annotation
     * names: today {@code MistralModel.Layers}, the training forward pass, by medqa-finetune.
     */
    @Test
    void internalTypesStayWithTheModulesTheyServe() {
        noClasses()
                .that(CORE.negate()
                        .and(describe(
                                "outside medqa-finetune",
                                c -> !c.getPackageName().startsWith("ai.medqa.finetune"))))
                .should()
                .dependOnClassesThat()
                .areAnnotatedWith(Internal.class)
                .because("@Internal types are not an API")
                .check(classes);
    }

    /**
     * Core's API speaks DJL's {@code NDArray} at most, never PyTorch's own types ({@code IValue},
     * {@code PtNDArray}): those stay behind the internal packages, so the API does not change with
     * the engine's bindings.
     */
    @Test
    void coreApiSignaturesHaveNoPyTorchTypes() {
        methods()
                .that()
                .arePublic()
                .and()
                .areDeclaredInClassesThat(CORE.and(describe(
                        "public, outside internal packages",
                        c -> c.getModifiers().contains(JavaModifier.PUBLIC)
                                && !c.getPackageName().contains(".internal"))))
                .should(notMention("ai.djl.pytorch."))
                .check(classes);
    }

    private static ArchCondition<JavaMethod> notMention(String prefix) {
        return new ArchCondition<>("have no parameter or return type from " + prefix) {
            @Override
            public void check(JavaMethod method, ConditionEvents events) {
                List<JavaClass> types = new ArrayList<>(method.getRawParameterTypes());
                types.add(method.getRawReturnType());
                for (JavaClass t : types) {
                    JavaClass base = t.getBaseComponentType(); // an IValue[] is PyTorch's too
                    if (base.getName().startsWith(prefix)) {
                        events.add(SimpleConditionEvent.violated(
                                method, method.getFullName() + " uses " + base.getName()));
                    }
                }
            }
        };
    }
}
