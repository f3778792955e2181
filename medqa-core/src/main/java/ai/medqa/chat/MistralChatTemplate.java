package ai.medqa.chat;

import ai.medqa.chat.Message.Role;
import ai.medqa.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The Mistral-Instruct format without Jinja, for checkpoints whose tokenizer_config.json has no
 * chat_template. It reproduces the Mistral-7B-Instruct-v0.1 template character for character,
 * including its checks and their messages:
 * <pre>
 * {{ bos_token }}{% for message in messages %}
 *   {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}
 *   {% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}
 *   {% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}
 *   {% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}
 * {% endfor %}
 * </pre>
 * A leading system message is folded into the first user message first.
 */
final class MistralChatTemplate extends ChatTemplate {
    static final String ROLES_MUST_ALTERNATE = "Conversation roles must alternate user/assistant/user/assistant/...";
    static final String ONLY_USER_AND_ASSISTANT = "Only user and assistant roles are supported!";
    static final String NO_TOOL_CALLS = "this chat format has no tool calls: write them as text turns (Tools does)";

    MistralChatTemplate(Tokenizer tokenizer) {
        super(tokenizer);
    }

    /** add_generation_prompt is ignored, as by the v0.1 template: the prompt already ends with "[/INST]". */
    @Override
    List<Segment> segments(List<Message> messages, boolean addGenerationPrompt, List<Tools.Tool> tools) {
        List<Message> folded = foldSystemPrompt(messages);
        List<Segment> segments = new ArrayList<>(3 * folded.size() + 1);
        segments.add(Segment.template(tokenizer.bosToken()));
        for (int i = 0; i < folded.size(); i++) {
            Message message = folded.get(i);
            if (message.callsTools()) {
                throw new ChatTemplateException(NO_TOOL_CALLS);
            }
            if ((message.role() == Role.USER) != (i % 2 == 0)) {
                throw new ChatTemplateException(ROLES_MUST_ALTERNATE);
            }
            if (message.role() == Role.USER) {
                segments.add(Segment.template("[INST] "));
                segments.add(Segment.message(message.content()));
                segments.add(Segment.template(" [/INST]"));
            } else if (message.role() == Role.ASSISTANT) {
                segments.add(Segment.message(message.content()));
                segments.add(Segment.template(tokenizer.eosToken() + " "));
            } else {
                throw new ChatTemplateException(ONLY_USER_AND_ASSISTANT);
            }
        }
        return segments;
    }
}
