#include "text.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <rapidcheck/gtest.h>

namespace crashcheck::reports::text {
namespace {

TEST(Text, InvalidUtf8BytesBecomeVisibleEscapes) {
  EXPECT_EQ(displayable("a\xff"
                        "b"),
            "a\\xffb");
  EXPECT_EQ(displayable("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(displayable("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // UTF-16 surrogate
  EXPECT_EQ(displayable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
  EXPECT_EQ(displayable("caf\xc3"), "caf\\xc3");                       // cut sequence
  EXPECT_EQ(displayable("café ✓ 𝄞"), "café ✓ 𝄞");
}

TEST(Text, ControlsBecomeEscapesButLayoutStays) {
  EXPECT_EQ(displayable(std::string("a\x01\x7f\r\tb\n", 7)), "a\\x01\\x7f\\x0d\tb\n");
  EXPECT_EQ(displayable(std::string("\0", 1)), "\\x00");
  EXPECT_EQ(valid_utf8("a\x01\xff"), "a\x01\\xff");
}

TEST(Text, MarkupEscapesEverythingThatCouldOpenMarkup) {
  EXPECT_EQ(markup_escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
}

TEST(Text, MarkdownInlineStaysOneLiteralLine) { EXPECT_EQ(markdown_inline("a|b\n*c*<d>&"), "a\\|b \\*c\\*\\<d\\>\\&"); }

TEST(Text, CodeBlockFenceOutgrowsBackticksInside) {
  EXPECT_EQ(markdown_code_block("echo ```x````", "sh"), "`````sh\necho ```x````\n`````\n");
  EXPECT_EQ(markdown_code_block("ls", ""), "```\nls\n```\n");
}

TEST(Text, CodeSpanHoldsTextLiterally) {
  EXPECT_EQ(markdown_code_span("save.py && x"), "`save.py && x`");  // no escapes, no references
  EXPECT_EQ(markdown_code_span("a `b` c"), "``a `b` c``");          // delimiter outgrows the backticks
  EXPECT_EQ(markdown_code_span("`edge"), "`` `edge ``");            // padded where a backtick touches it
  EXPECT_EQ(markdown_code_span("two\nlines"), "`two lines`");
}

TEST(Text, CountsSaturateAndSaySo) {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(saturating_add(kMax - 1, 5), kMax);
  EXPECT_EQ(saturating_add(2, 3), 5u);
  EXPECT_EQ(count_text(kMax), "more than 10^19");
  EXPECT_EQ(count_text(42), "42");
}

TEST(Text, ShortenedCutsOnCharacterBoundary) {
  EXPECT_EQ(shortened("ééé", 3), "é…");
  EXPECT_EQ(shortened("abc", 3), "abc");
}

TEST(Text, CommandLineQuotesWhatAShellWouldSplit) {
  EXPECT_EQ(command_line({"/usr/bin/python3", "w.py", "{target}", "a b", "it's", ""}),
            "/usr/bin/python3 w.py {target} 'a b' 'it'\\''s' ''");
}

TEST(Text, ShellQuoteKeepsBracesAShellWouldExpandQuoted) {
  EXPECT_EQ(shell_quote("{target}"), "{target}");
  EXPECT_EQ(shell_quote("a{b,c}"), "'a{b,c}'");
  EXPECT_EQ(shell_quote("f{1..3}"), "'f{1..3}'");
  EXPECT_EQ(shell_quote("/tmp/out dir/report.json"), "'/tmp/out dir/report.json'");
}

RC_GTEST_PROP(TextProperty, DisplayableIsValidUtf8WithoutControls, (const std::string& raw)) {
  const std::string shown = displayable(raw);
  RC_ASSERT(valid_utf8(shown) == shown);
  for (const char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    RC_ASSERT(!((byte < 0x20 && c != '\t' && c != '\n') || byte == 0x7f));
  }
}

RC_GTEST_PROP(TextProperty, ValidUtf8IsLeftAlone, (const std::u32string& codepoints)) {
  // Build valid UTF-8 from code points outside the surrogate range.
  std::string utf8;
  for (char32_t cp : codepoints) {
    cp = cp % 0x110000;
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (cp < 0x80) {
      utf8 += static_cast<char>(cp);
    } else if (cp < 0x800) {
      utf8 += static_cast<char>(0xC0 | (cp >> 6));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      utf8 += static_cast<char>(0xE0 | (cp >> 12));
      utf8 += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      utf8 += static_cast<char>(0xF0 | (cp >> 18));
      utf8 += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      utf8 += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  RC_ASSERT(valid_utf8(utf8) == utf8);
}

}  // namespace
}  // namespace crashcheck::reports::text
