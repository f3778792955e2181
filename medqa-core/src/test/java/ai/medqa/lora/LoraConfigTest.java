package ai.medqa.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.common.Json;
import ai.medqa.model.MistralConfig;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * adapter_config.json parsing, PEFT's module matching (checked against PEFT's own answers in
 * fixtures/lora/patterns_golden.json, made by tools/make_lora_pattern_golden.py), refusals, and the
 * trainable-parameter count of the seed's configuration on Mistral-7B's shapes.
 */
class LoraConfigTest {

    @Test
    void readsThePeftFixtures() {
        LoraConfig qv = LoraConfig.load(LoraFixtures.fixture("lora/C-qv"));
        assertThat(qv.r()).isEqualTo(8);
        assertThat(qv.loraAlpha()).isEqualTo(16);
        assertThat(qv.loraDropout()).isEqualTo(0.05);
        assertThat(qv.useRslora()).isFalse();
        assertThat(qv.taskType()).isEqualTo("CAUSAL_LM");
        assertThat(qv.baseModelNameOrPath()).isEqualTo("../../mistral-swa/f32");
        assertThat(qv.scaling("model.layers.0.self_attn.q_proj")).isEqualTo(2.0);
        assertThat(qv.targets("model.layers.3.self_attn.v_proj")).isTrue();
        assertThat(qv.targets("model.layers.3.self_attn.k_proj")).isFalse();
        assertThat(qv.targets("lm_head")).isFalse();

        LoraConfig rs = LoraConfig.load(LoraFixtures.fixture("lora/C-rslora"));
        assertThat(rs.useRslora()).isTrue();
        assertThat(rs.scaling("model.layers.0.self_attn.q_proj")).isCloseTo(16 / Math.sqrt(8), within(1e-15));

        LoraConfig all = LoraConfig.load(LoraFixtures.fixture("lora/C-all"));
        assertThat(all.r()).isEqualTo(4);
        assertThat(new TreeSet<>(all.targetModules()))
                .containsExactly("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj");
    }

    /** The seed: r=8, alpha=16, q_proj and v_proj on Mistral-7B (32 layers, hidden 4096, kv 1024). */
    @Test
    void seedConfigurationOnMistral7bCounts3407872() {
        MistralConfig mistral7b = MistralConfig.load(LoraFixtures.fixture("../tokenizer/mistral-7b-v0.1"));
        LoraConfig seed = LoraConfig.of(8, 16, 0.05, List.of("q_proj", "v_proj"));
        assertThat(seed.trainableParameters(mistral7b))
                .isEqualTo(3_407_872L)
                .isEqualTo(32L * (8 * (4096 + 4096) + 8 * (4096 + 1024)))
                .isEqualTo(LoraFixtures.golden()
                        .get("mistral_7b_v0_1_meta")
                        .get("trainable_params")
                        .asLong());
    }

    @Test
    void moduleQuestionsAnswerAsPeftDoes() {
        JsonNode configs = LoraFixtures.json("lora/patterns_golden.json").get("configs");
        MistralConfig modelC = MistralConfig.load(LoraFixtures.fixture("mistral-swa/f32"));
        int checked = 0;
        for (Map.Entry<String, JsonNode> c : configs.properties()) {
            String what = c.getKey();
            LoraConfig config = LoraConfig.fromJson(c.getValue().get("adapter_config"), what);
            JsonNode modules = c.getValue().get("modules");
            Set<String> ours = new TreeSet<>();
            for (Projection p : Projection.of(modelC)) {
                if (config.targets(p.module())) {
                    ours.add(p.module());
                }
            }
            Set<String> peft = new TreeSet<>();
            modules.fieldNames().forEachRemaining(peft::add);
            assertThat(ours).as("%s: targeted modules", what).isEqualTo(peft);
            for (String module : peft) {
                JsonNode expected = modules.get(module);
                assertThat(config.rank(module))
                        .as("%s: r of %s", what, module)
                        .isEqualTo(expected.get("r").asInt());
                assertThat(config.scaling(module))
                        .as("%s: scaling of %s", what, module)
                        .isCloseTo(expected.get("scaling").asDouble(), within(1e-12));
                checked++;
            }
            assertThat(config.trainableParameters(modelC))
                    .as("%s: trainable parameters", what)
                    .isEqualTo(c.getValue().get("trainable_params").asLong());
        }
        assertThat(checked).isGreaterThan(30);
    }

    @Test
    void jsonRoundTripKeepsEveryField() {
        JsonNode configs = LoraFixtures.json("lora/patterns_golden.json").get("configs");
        for (Map.Entry<String, JsonNode> c : configs.properties()) {
            LoraConfig config = LoraConfig.fromJson(c.getValue().get("adapter_config"), c.getKey());
            LoraConfig again = LoraConfig.fromJson(parse(config.toJson()), "written " + c.getKey());
            assertThat(again).as(c.getKey()).isEqualTo(config);
        }
        LoraConfig qv = LoraConfig.load(LoraFixtures.fixture("lora/C-qv"));
        JsonNode written = parse(qv.toJson());
        assertThat(written.get("lora_alpha").isInt())
                .as("alpha written as an int, as PEFT types it")
                .isTrue();
        assertThat(written.get("peft_type").asText()).isEqualTo("LORA");
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(
            delimiter = '|',
            value = {
                "bias|\"all\"|\"none\"",
                "bias|\"lora_only\"|\"none\"",
                "use_dora|true|MedQA does not implement it",
                "modules_to_save|[\"lm_head\"]|adapters that replace whole modules",
                "peft_type|\"IA3\"|LoRA adapters only",
                "r|0|> 0",
                "lora_dropout|1.5|[0, 1)",
                "init_lora_weights|\"pissa\"|modify the base weights",
                "target_parameters|[\"experts.weight\"]|MedQA does not implement it",
                "lora_alpha|\"16\"|a number",
            })
    void unsupportedOptionsAreRefusedNamingFileAndField(String field, String value, String expected) throws Exception {
        ObjectNode json =
                (ObjectNode) LoraFixtures.json("lora/C-qv/adapter_config.json").deepCopy();
        json.set(field, parse(value));
        assertThatThrownBy(() -> LoraConfig.fromJson(json, "adapters/x/adapter_config.json"))
                .isInstanceOf(LoraException.class)
                .hasMessageContaining("adapters/x/adapter_config.json")
                .hasMessageContaining(field)
                .hasMessageContaining(expected);
    }

    @Test
    void targetModulesNullMeansPeftsMistralDefaultAndAllLinearSkipsTheHead() {
        ObjectNode json =
                (ObjectNode) LoraFixtures.json("lora/C-qv/adapter_config.json").deepCopy();
        json.putNull("target_modules");
        assertThat(LoraConfig.fromJson(json, "x").targetModules()).containsExactly("q_proj", "v_proj");
        json.put("target_modules", "all-linear");
        LoraConfig all = LoraConfig.fromJson(json, "x");
        assertThat(all.targets("model.layers.0.mlp.down_proj")).isTrue();
        assertThat(all.targets("lm_head")).isFalse();
    }

    private static JsonNode parse(String s) {
        try {
            return Json.MAPPER.readTree(s);
        } catch (Exception e) {
            throw new IllegalArgumentException(s, e);
        }
    }
}
