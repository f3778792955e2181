package ai.medqa.server;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The chat page in a real headless Chromium (Debian's chromium and chromium-driver; Selenium is
 * given both paths, so Selenium Manager never downloads anything), against a real server and model.
 */
class ChatPageBrowserTest {
    static final File CHROMIUM = new File("/usr/bin/chromium");
    static final File DRIVER = new File("/usr/bin/chromedriver");

    @TempDir
    static Path dir;

    static MedQA medqa;
    static MedQAServer server;
    static WebDriver browser;

    @BeforeAll
    static void start() throws Exception {
        if (!CHROMIUM.canExecute() || !DRIVER.canExecute()) {
            String why = "\n\n*** BROWSER TESTS SKIPPED: no " + (CHROMIUM.canExecute() ? DRIVER : CHROMIUM)
                    + ". Install Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver;"
                    + " .ci/run does) to run them. ***\n";
            System.err.println(why);
            Assumptions.abort(why);
        }
        TinyServerModel.write(dir, 4096);
        medqa = TinyServerModel.load(dir);
        server = MedQAServer.start(
                ServerOptions.defaults("tiny").withPort(0).withFeedback(dir.resolve("feedback.jsonl")), medqa);
        // The tiny model writes a whole answer in a blink: slow the stream so the page can be watched.
        server.pieceDelay = Duration.ofMillis(40);
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        options.addArguments(
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,860",
                "--user-data-dir=" + Files.createDirectories(dir.resolve("chromium-profile")));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(DRIVER)
                .usingAnyFreePort()
                .build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().scriptTimeout(Duration.ofSeconds(20));
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (server != null) {
            server.close();
        }
        if (medqa != null) {
            medqa.close();
        }
    }

    static WebDriverWait waiting(int seconds) {
        return new WebDriverWait(browser, Duration.ofSeconds(seconds), Duration.ofMillis(10));
    }

    static List<WebElement> answers() {
        return browser.findElements(By.cssSelector(".msg.assistant .content"));
    }

    @Test
    void askWatchItGrowStopLikeReloadAndFindItInHistory() throws Exception {
        browser.get(server.url() + "/");
        waiting(30).until(b -> b.findElements(By.cssSelector("#adapter option")).size() == 2);
        browser.findElement(By.id("input")).sendKeys("Does metformin cause lactic acidosis?");
        browser.findElement(By.id("send")).click();

        // The answer grows in visible steps while it streams.
        Set<Integer> lengths = new LinkedHashSet<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (lengths.size() < 4 && System.nanoTime() < deadline) {
            List<WebElement> a = answers();
            if (!a.isEmpty()) {
                int n = a.get(a.size() - 1).getText().length();
                if (n > 0) {
                    lengths.add(n);
                }
            }
        }
        assertThat(lengths).as("answer lengths seen while streaming").hasSizeGreaterThanOrEqualTo(3);

        WebElement stop = browser.findElement(By.id("stop"));
        assertThat(stop.isEnabled()).isTrue();
        stop.click();
        waiting(10).until(b -> b.findElement(By.id("status")).getText().equals("stopped"));
        assertThat(browser.findElement(By.id("stop")).isEnabled()).isFalse();
        assertThat(browser.findElement(By.cssSelector(".msg.assistant .note")).getText())
                .isEqualTo("stopped before the end");
        String answer = answers().get(0).getText();
        assertThat(answer).isNotEmpty();

        // The audit's case: settings changed after the answer, before the vote, must not be what is recorded.
        String systemAtGeneration = browser.findElement(By.id("system")).getAttribute("value");
        String modelAtGeneration = browser.findElement(By.id("adapter")).getAttribute("value");
        ((JavascriptExecutor) browser)
                .executeScript("const t = document.getElementById('temperature'); t.value = 1.9;"
                        + " t.dispatchEvent(new Event('input')); document.getElementById('system').value = 'Edited afterwards.';"
                        + " const a = document.getElementById('adapter'); a.selectedIndex = 1;");
        browser.findElement(By.cssSelector(".msg.assistant .votes .like")).click();
        waiting(10).until(b -> b.findElement(By.id("status")).getText().contains("recorded"));
        List<String> lines = Files.readAllLines(dir.resolve("feedback.jsonl"));
        assertThat(lines).hasSize(1);
        JsonNode vote = Json.MAPPER.readTree(lines.get(0));
        assertThat(vote.get("vote").asText()).isEqualTo("like");
        JsonNode completion = vote.get("completion");
        assertThat(completion.get("messages").toString()).contains("Does metformin cause lactic acidosis?");
        assertThat(completion.get("settings").get("temperature").asDouble()).isEqualTo(0.7);
        assertThat(completion.at("/messages/0/content").asText()).isEqualTo(systemAtGeneration.strip());
        assertThat(completion.get("model").asText()).isEqualTo(modelAtGeneration);
        assertThat(completion.toString()).doesNotContain("Edited afterwards.");
        // It was stopped: the server has seen the client go, or is about to (at its next piece).
        assertThat(completion.get("finish_reason").asText()).isIn("cancelled", "in_progress");
        assertThat(completion.get("completion").asText()).isNotEmpty();

        screenshot("chat-page.png");
        browser.navigate().refresh();
        waiting(10).until(b -> !b.findElements(By.cssSelector("#history li")).isEmpty());
        WebElement past = browser.findElement(By.cssSelector("#history li"));
        assertThat(past.getText()).isEqualTo("Does metformin cause lactic acidosis?");
        past.click();
        assertThat(browser.findElement(By.cssSelector(".msg.user .content")).getText())
                .isEqualTo("Does metformin cause lactic acidosis?");
        assertThat(browser.findElement(By.cssSelector(".msg.assistant .votes .like"))
                        .getAttribute("class"))
                .contains("chosen");
    }

    @Test
    void markupInAnAnswerIsShownAsTextNeverRun() throws Exception {
        browser.get(server.url() + "/");
        String evil =
                "**Bold** point, *real* emphasis.\n<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"
                        + "\nDose 5*3 mg *twice* a day, then 2 * 4 mg.";
        // An answer as the page keeps it (its history holds answers exactly as the model streamed them).
        ((JavascriptExecutor) browser)
                .executeScript(
                        "localStorage.setItem('medqa.history', JSON.stringify([{id: 'x1',"
                                + " title: 'xss', updated: Date.now(), messages: [{role: 'user', content: 'q'},"
                                + " {role: 'assistant', content: arguments[0]}]}]));",
                        evil);
        browser.navigate().refresh();
        waiting(10).until(b -> !b.findElements(By.cssSelector("#history li")).isEmpty());
        browser.findElement(By.cssSelector("#history li")).click();
        WebElement content = answers().get(0);
        assertThat(content.getText())
                .contains("<script>window.__pwned = 1</script>")
                .contains("<img src=x");
        assertThat(content.findElements(By.tagName("script"))).isEmpty();
        assertThat(content.findElements(By.tagName("img"))).isEmpty();
        assertThat(content.findElement(By.tagName("strong")).getText()).isEqualTo("Bold");
        // Emphasis where CommonMark puts it, not "3 mg " italicised by a multiplication sign.
        assertThat(content.findElements(By.tagName("em")))
                .extracting(WebElement::getText)
                .containsExactly("real", "twice");
        assertThat(content.getText()).contains("Dose 5*3 mg twice a day, then 2 * 4 mg.");
        Thread.sleep(300); // an onerror handler would have fired by now
        assertThat(((JavascriptExecutor) browser).executeScript("return window.__pwned === undefined"))
                .isEqualTo(true);
        screenshot("chat-page-escaped.png");
    }

    @Test
    void aKeyedServerAsksForTheKeyThenRetryUndoAndClearWork() throws Exception {
        try (MedQAServer keyed =
                MedQAServer.start(ServerOptions.defaults("tiny").withPort(0).withApiKey("s3cret"), medqa)) {
            browser.get(keyed.url() + "/");
            ((JavascriptExecutor) browser).executeScript("localStorage.clear(); sessionStorage.clear();");
            browser.navigate().refresh();
            waiting(10).until(b -> b.findElement(By.id("key-box")).isDisplayed());
            browser.findElement(By.id("api-key")).sendKeys("s3cret");
            browser.findElement(By.id("save-key")).click();
            waiting(30)
                    .until(b ->
                            b.findElements(By.cssSelector("#adapter option")).size() == 2);

            ((JavascriptExecutor) browser).executeScript("document.getElementById('max-tokens').value = 16;");
            browser.findElement(By.id("input")).sendKeys("Is heparin an anticoagulant?");
            browser.findElement(By.id("send")).click();
            waiting(30)
                    .until(b -> b.findElement(By.id("send")).isEnabled()
                            && answers().size() == 1
                            && !answers().get(0).getText().isEmpty());

            browser.findElement(By.id("retry")).click();
            waiting(30)
                    .until(b -> b.findElement(By.id("send")).isEnabled()
                            && answers().size() == 1
                            && !answers().get(0).getText().isEmpty());
            assertThat(browser.findElements(By.cssSelector(".msg.user"))).hasSize(1);

            browser.findElement(By.id("undo")).click();
            assertThat(browser.findElements(By.cssSelector(".msg"))).isEmpty();
            assertThat(browser.findElement(By.id("input")).getAttribute("value"))
                    .isEqualTo("Is heparin an anticoagulant?");

            browser.findElement(By.id("send")).click();
            waiting(30)
                    .until(b -> b.findElement(By.id("send")).isEnabled()
                            && answers().size() == 1);
            browser.findElement(By.id("clear")).click();
            assertThat(browser.findElements(By.cssSelector(".msg"))).isEmpty();
            assertThat(browser.findElements(By.cssSelector("#history li"))).hasSize(1); // the conversation was kept
        }
    }

    /** "Another answer" shows a second answer beside the first; picking one writes one pair line with both records. */
    @Test
    void anotherAnswerThenAPickWritesOnePair() throws Exception {
        browser.get(server.url() + "/");
        ((JavascriptExecutor) browser).executeScript("localStorage.clear();");
        browser.navigate().refresh();
        waiting(30).until(b -> b.findElements(By.cssSelector("#adapter option")).size() == 2);
        ((JavascriptExecutor) browser).executeScript("document.getElementById('max-tokens').value = 16;");
        browser.findElement(By.id("input")).sendKeys("Is warfarin an anticoagulant?");
        browser.findElement(By.id("send")).click();
        waiting(30)
                .until(b -> b.findElement(By.id("send")).isEnabled()
                        && !b.findElements(By.cssSelector(".msg .another")).isEmpty());
        String first = answers().get(0).getText();
        browser.findElement(By.cssSelector(".msg .another")).click();
        waiting(30)
                .until(b -> b.findElement(By.id("send")).isEnabled()
                        && b.findElement(By.cssSelector(".msg .pick-second")).isEnabled());
        String second = browser.findElement(By.cssSelector(".msg .alternative .content"))
                .getText();
        assertThat(second).isNotEmpty();
        long before = Files.exists(dir.resolve("feedback.jsonl"))
                ? Files.readAllLines(dir.resolve("feedback.jsonl")).size()
                : 0;
        screenshot("chat-another-answer.png");
        browser.findElement(By.cssSelector(".msg .pick-second")).click();
        waiting(10).until(b -> b.findElement(By.id("status")).getText().contains("pick was recorded"));
        List<String> lines = Files.readAllLines(dir.resolve("feedback.jsonl"));
        assertThat(lines).hasSize((int) before + 1);
        JsonNode pair = Json.MAPPER.readTree(lines.get(lines.size() - 1));
        assertThat(pair.get("type").asText()).isEqualTo("pair");
        // As the page shows them (Markdown rendered, runs of white space collapsed).
        assertThat(squeeze(pair.at("/chosen/completion").asText())).isEqualTo(squeeze(second));
        assertThat(squeeze(pair.at("/rejected/completion").asText())).isEqualTo(squeeze(first));
        assertThat(pair.at("/chosen/messages")).isEqualTo(pair.at("/rejected/messages"));
        // The conversation keeps the picked answer, alone.
        assertThat(browser.findElements(By.cssSelector(".msg .alternative"))).isEmpty();
        assertThat(squeeze(answers().get(0).getText())).isEqualTo(squeeze(second));
    }

    static String squeeze(String s) {
        return s.replaceAll("\\s+", " ").strip();
    }

    /** Two long answers at 1280x900: the messages pane scrolls, header and composer stay in view. */
    @Test
    void longAnswersScrollInTheMessagesPaneOnDesktopAndPhone() throws Exception {
        browser.get(server.url() + "/");
        String answer =
                ("Metformin is a biguanide that lowers hepatic glucose production. ".repeat(8) + "\n\n").repeat(6);
        ((JavascriptExecutor) browser)
                .executeScript(
                        "localStorage.setItem('medqa.history', JSON.stringify([{id: 'long',"
                                + " title: 'long answers', updated: Date.now(), messages: [{role: 'user', content: 'first?'},"
                                + " {role: 'assistant', content: arguments[0]}, {role: 'user', content: 'second?'},"
                                + " {role: 'assistant', content: arguments[0]}]}]));",
                        answer);
        browser.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 900));
        try {
            twoLongAnswers();
        } finally {
            browser.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 860));
        }
    }

    private void twoLongAnswers() throws Exception {
        browser.navigate().refresh();
        waiting(10).until(b -> !b.findElements(By.cssSelector("#history li")).isEmpty());
        browser.findElement(By.cssSelector("#history li")).click();
        waiting(10).until(b -> answers().size() == 2);
        assertLayout("1280 wide");
        screenshot("chat-1280x900-long-answers.png");

        browser.manage().window().setSize(new org.openqa.selenium.Dimension(420, 860));
        waiting(10).until(b -> js("return window.innerWidth") <= 420);
        assertLayout("420 wide");
        assertThat(js("return document.getElementById('messages').getBoundingClientRect().width"))
                .as("the chat takes the width")
                .isGreaterThan(380);
        assertThat(browser.findElement(By.id("sidebar")).isDisplayed()).isFalse();
        assertThat(browser.findElement(By.id("settings")).isDisplayed()).isFalse();
        screenshot("chat-420-wide.png");
        browser.findElement(By.id("toggle-settings")).click();
        assertThat(browser.findElement(By.id("settings")).isDisplayed()).isTrue();
        screenshot("chat-420-wide-settings.png");
        ((JavascriptExecutor) browser)
                .executeScript("document.getElementById('messages').click();"); // touching the chat
        assertThat(browser.findElement(By.id("settings")).isDisplayed()).isFalse();
        browser.findElement(By.id("toggle-settings")).click();
        browser.findElement(By.id("toggle-history")).click();
        assertThat(browser.findElement(By.id("settings")).isDisplayed()).isFalse();
        assertThat(browser.findElement(By.id("sidebar")).isDisplayed()).isTrue();
        browser.findElement(By.cssSelector("#history li")).click();
        assertThat(browser.findElement(By.id("sidebar")).isDisplayed()).isFalse();
    }

    /** The page does not scroll; the messages pane does, showing its end; header and input are on screen. */
    private static void assertLayout(String what) {
        double viewport = js("return window.innerHeight");
        assertThat(js("return document.scrollingElement.scrollHeight"))
                .as(what + ": page height")
                .isLessThanOrEqualTo(viewport);
        assertThat(js("return document.querySelector('header').getBoundingClientRect().top"))
                .as(what + ": header")
                .isEqualTo(0.0);
        assertThat(js("return document.getElementById('input').getBoundingClientRect().bottom"))
                .as(what + ": input box")
                .isLessThanOrEqualTo(viewport);
        assertThat(js("const m = document.getElementById('messages'); return m.scrollHeight - m.clientHeight"))
                .as(what + ": the pane has more than fits")
                .isGreaterThan(100);
        assertThat(
                        js(
                                "const m = document.getElementById('messages'); return m.scrollHeight - m.scrollTop - m.clientHeight"))
                .as(what + ": scrolled to the last answer")
                .isLessThan(2.0);
    }

    private static double js(String script) {
        return ((Number) ((JavascriptExecutor) browser).executeScript(script)).doubleValue();
    }

    /** A history this page did not write (edited by hand, an older version) must not stop the page from loading. */
    @Test
    void aMalformedHistoryIsSkippedAndThePageStillLoads() throws Exception {
        browser.get(server.url() + "/");
        ((JavascriptExecutor) browser)
                .executeScript("localStorage.setItem('medqa.history', '[null,5,{\"id\":1},"
                        + "{\"id\":\"ok\",\"title\":\"kept\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]},"
                        + "{\"id\":\"bad\",\"messages\":[null]}]');");
        browser.navigate().refresh();
        waiting(30).until(b -> b.findElements(By.cssSelector("#adapter option")).size() == 2);
        assertThat(browser.findElements(By.cssSelector("#history li")))
                .extracting(li -> li.getAttribute("textContent"))
                .containsExactly("kept");
        ((JavascriptExecutor) browser).executeScript("localStorage.setItem('medqa.history', '{\"not\": \"a list\"}');");
        browser.navigate().refresh();
        waiting(30).until(b -> b.findElements(By.cssSelector("#adapter option")).size() == 2);
        assertThat(browser.findElements(By.cssSelector("#history li"))).isEmpty();
        ((JavascriptExecutor) browser).executeScript("localStorage.clear();");
    }

    static void screenshot(String name) throws Exception {
        Path shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
        Path out = Path.of("target", name);
        Files.createDirectories(out.getParent());
        Files.copy(shot, out, StandardCopyOption.REPLACE_EXISTING);
    }
}
