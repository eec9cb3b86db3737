#include "scan/scanner.h"

#include <gtest/gtest.h>
#include <hs/hs.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>

#include "core/key_format.h"
#include "fakes/fake_env.h"
#include "fakes/fake_secrets.h"
#include "scan/db_cache.h"

namespace keyhold::scan {
namespace {

class ScannerTest : public ::testing::Test {
 protected:
  std::vector<Finding> Scan(const std::string& text, const std::string& path = "app/config.py") {
    if (!scanner_) {
      auto s = Scanner::Create(BuiltinRules());
      EXPECT_TRUE(s.ok()) << s.status().message();
      scanner_ = std::move(s).value();
      scratch_ = scanner_->NewScratch();
    }
    return scanner_->Scan(text, {.path = path}, scratch_);
  }
  std::vector<std::string> Rules(const std::vector<Finding>& found) {
    std::vector<std::string> ids;
    for (const Finding& f : found) ids.push_back(f.rule_id());
    return ids;
  }

  testing::FakeEnv env_;
  std::unique_ptr<Scanner> scanner_;
  Scanner::Scratch scratch_;
};

TEST_F(ScannerTest, KeyholdKeysAreConfirmedByTheirCheck) {
  std::string key = GenerateKey(env_, "hd", 32);
  std::string bare = GenerateKey(env_, "", 16);
  std::string text = "# config\nHELPDESK_KEY=" + key + "\nother = \"" + bare + "\"\n";
  auto found = Scan(text);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].kind, FindingKind::kKeyholdKey);
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[0].column, 14);
  EXPECT_EQ(found[0].key_prefix, "hd");
  EXPECT_EQ(found[0].key_start, KeyStart(key));
  EXPECT_EQ(found[0].Masked().find(key), std::string::npos);
  EXPECT_EQ(found[1].line, 3);
  EXPECT_EQ(found[1].key_prefix, "");
}

TEST_F(ScannerTest, AKeyWithAWrongCheckIsNotReported) {
  std::string key = GenerateKey(env_, "hd", 32);
  key.back() = key.back() == 'a' ? 'b' : 'a';
  EXPECT_TRUE(Scan("id: " + key + "\n").empty());
}

TEST_F(ScannerTest, ProviderCredentials) {
  using testing::FakeSecret;
  std::string body = FakeSecret("", 30);
  std::string text = "gh = 'ghp_" + body + KeyCheck(body) +
                     "'\n"
                     "stripe: " +
                     FakeSecret("sk_live_", 24) + "\n" + "aws_access_key_id = " +
                     FakeSecret("AKIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") + "\n";
  auto found = Scan(text);
  EXPECT_EQ(Rules(found),
            (std::vector<std::string>{"github-pat", "stripe-secret-key", "aws-access-key-id"}));
  EXPECT_EQ(found[0].Masked(), "ghp_…(40)");
}

TEST_F(ScannerTest, PrivateKeysSpanLines) {
  auto found = Scan("x = 1\n" + testing::FakePem("PRIVATE KEY", 10));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rule_id(), "private-key-pkcs8");
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[0].end_line, 13);
}

TEST_F(ScannerTest, ConnectionStringsWithPasswordsButNotPlaceholders) {
  auto found = Scan("DATABASE_URL=postgres://app:" + testing::FakeSecret("", 12) +
                    "@db.internal:5432/crm\n" +
                    "example = \"postgres://user:password@localhost/db\"\n"
                    "tmpl = \"mysql://root:${DB_PASSWORD}@db/app\"\n");
  ASSERT_EQ(Rules(found), std::vector<std::string>{"postgres-connection-string"});
  EXPECT_EQ(found[0].secret, testing::FakeSecret("", 12));
}

TEST_F(ScannerTest, GenericSecretsNeedEntropyAndSkipLookAlikes) {
  auto found = Scan(
      "client_secret = \"q8Zr2LmT7vXc4NpK9sWd\"\n"                          // reported
      "password = \"changeme_changeme\"\n"                                  // stop-word
      "session_token = \"123e4567-e89b-12d3-a456-426614174000\"\n"          // UUID
      "api_key = os.getenv(\"API_KEY\")\n"                                  // lookup
      "secret_name = \"database_password_prod\"\n"                          // identifier
      "token = \"aaaaaaaaaaaaaaaa\"\n"                                      // no entropy
      "password_hash = \"5f4dcc3b5aa765d61d8327deb882cf99\"\n"              // a digest
      "keyhold run --secret SMTP_PASSWORD=secret/helpdesk/smtp#password\n"  // a reference
      "api_key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n");
  ASSERT_EQ(Rules(found), std::vector<std::string>{"generic-secret"});
  EXPECT_EQ(found[0].line, 1);
}

// RE2 treats the text before a window as context, so a bare ^ matched only at the start of a
// file: a secret-looking name that began any later line was never reported.
TEST_F(ScannerTest, GenericSecretAtTheStartOfALaterLine) {
  auto found = Scan("# settings\npassword = \"" + testing::FakeSecret("", 20) +
                    "\"\nSECRET_KEY=" + testing::FakeSecret("", 24) + "\n");
  ASSERT_EQ(Rules(found), (std::vector<std::string>{"generic-secret", "generic-secret"}));
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[1].line, 3);
}

// A line far longer than any secret is searched near its keywords only: what lies near a keyword
// is still found with its true column, and an allow comment anywhere on the line still counts.
TEST_F(ScannerTest, SecretsOnAVeryLongLine) {
  std::string filler;
  while (filler.size() < 300000) filler += "lorem ipsum dolor ";
  const std::string stripe = testing::FakeSecret("sk_live_", 24);
  const std::string generic = "client_secret = \"q8Zr2LmT7vXc4NpK9sWd\"";
  const std::string text = filler + "stripe: " + stripe + " " + filler + generic + " " + filler;
  auto found = Scan(text + "\n");
  ASSERT_EQ(Rules(found), (std::vector<std::string>{"stripe-secret-key", "generic-secret"}));
  EXPECT_EQ(found[0].line, 1);
  EXPECT_EQ(found[0].column, static_cast<int64_t>(filler.size() + 9));
  EXPECT_EQ(found[0].secret, stripe);
  EXPECT_EQ(found[1].column, static_cast<int64_t>(text.find("q8Zr") + 1));
  EXPECT_TRUE(Scan(text + " # keyhold:allow\n").empty());
  // The same secrets on a later, shorter line are reported on it.
  found = Scan(filler + "\n" + generic + "\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[0].column, 18);
}

TEST_F(ScannerTest, InlineAllowAndPathAllowlists) {
  std::string key = GenerateKey(env_, "hd", 32);
  EXPECT_TRUE(Scan("k = \"" + key + "\"  # keyhold:allow\n").empty());
  EXPECT_TRUE(scanner_->PathAllowlisted("web/package-lock.json"));
  EXPECT_TRUE(scanner_->PathAllowlisted("assets/logo.PNG"));
  EXPECT_FALSE(scanner_->PathAllowlisted("web/package.json"));
  EXPECT_EQ(Scan("k = \"" + key + "\"\n", "web/package.json").size(), 1u);
}

// A scanner of the rules in `toml` (a user's rules file named mine.toml).
StatusOr<std::unique_ptr<Scanner>> ScannerOf(const std::string& toml) {
  KH_ASSIGN_OR_RETURN(RuleSet set, ParseRules(toml, "mine.toml"));
  return Scanner::Create(std::move(set));
}

TEST_F(ScannerTest, UserRulesWithAndWithoutKeywords) {
  auto s = ScannerOf(R"(
[[rules]]
id = "acme"
regex = '''acme_[a-z0-9]{16}'''
keywords = ["acme_"]
[[rules]]
id = "order-token"
regex = '''ORD-[0-9]{6}-[A-Z]{4}'''
)");
  ASSERT_TRUE(s.ok()) << s.status().message();
  Scanner::Scratch scratch = (*s)->NewScratch();
  auto found = (*s)->Scan("a acme_0123456789abcdef b\nc ORD-123456-ABCD\n", {.path = "x"}, scratch);
  EXPECT_EQ(Rules(found), (std::vector<std::string>{"acme", "order-token"}));
  EXPECT_EQ(found[0].secret, "acme_0123456789abcdef");
}

TEST_F(ScannerTest, FingerprintIgnoresPosition) {
  std::string key = GenerateKey(env_, "hd", 32);
  auto a = Scan("k=" + key + "\n");
  auto b = Scan("\n\n   k=" + key + "\n");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].fingerprint, b[0].fingerprint);
  EXPECT_NE(a[0].line, b[0].line);
  EXPECT_EQ(a[0].fingerprint.size(), 32u);
}

}  // namespace
}  // namespace keyhold::scan

namespace keyhold::scan {
namespace {

// Keys at every offset around the 64-byte blocks the candidate search works in, in runs of
// other word characters and beside long runs that are not keys.
TEST(ScannerKeyPositions, EveryOffsetAndNeighbourhood) {
  testing::FakeEnv env;
  auto s = Scanner::Create(RuleSet{});
  ASSERT_TRUE(s.ok());
  Scanner::Scratch scratch = (*s)->NewScratch();
  std::string key = GenerateKey(env, "sk", 16);
  std::string long_run(200, 'A');
  for (size_t offset = 0; offset < 140; ++offset) {
    for (const std::string& before : {std::string(" "), std::string("X_")}) {
      std::string text = std::string(offset, ' ') + before + key + " " + long_run + "\n";
      auto found = (*s)->Scan(text, {.path = "f"}, scratch);
      ASSERT_EQ(found.size(), 1u) << "offset " << offset << " before '" << before << "'";
      EXPECT_EQ(found[0].column, static_cast<int64_t>(offset + before.size() + 1));
      EXPECT_EQ(found[0].secret.size(), key.size());
    }
    std::string at_end = std::string(offset, 'b') + "-" + key;  // key ends the buffer
    EXPECT_EQ((*s)->Scan(at_end, {.path = "f"}, scratch).size(), 1u) << "offset " << offset;
  }
  EXPECT_TRUE((*s)->Scan(long_run + long_run, {.path = "f"}, scratch).empty());
}

}  // namespace
}  // namespace keyhold::scan

namespace keyhold::scan {
namespace {

TEST(ScannerFallback, ARegexThePrefilterCannotTakeIsSearchedInFull) {
  // Vectorscan does not accept RE2's (?U) flag; the rule must still work.
  auto set = ParseRules("[[rules]]\nid = \"lazy\"\nregex = '''(?U)tok_[a-z]+9'''\n", "r.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto s = Scanner::Create(std::move(set).value());
  ASSERT_TRUE(s.ok()) << s.status().message();
  Scanner::Scratch scratch = (*s)->NewScratch();
  auto found = (*s)->Scan("x = tok_abc9\n", {.path = "f"}, scratch);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].secret, "tok_abc9");
}

TEST(ScannerPrefilter, ARuleRunsWhereItsPrefilterMatchesNotWhereItsKeywordsDo) {
  auto s = ScannerOf(R"(
[[rules]]
id = "acme"
regex = '''acme_[a-z0-9]{16}'''
keywords = ["acme_"]
prefilter = '''acme_[0-9]'''
)");
  ASSERT_TRUE(s.ok()) << s.status().message();
  Scanner::Scratch scratch = (*s)->NewScratch();
  // Both lines match the regex and hold the keyword; only the second matches the prefilter.
  auto found =
      (*s)->Scan("a acme_abcdef0123456789 b\nc acme_0123456789abcdef\n", {.path = "x"}, scratch);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].line, 2);
}

TEST(ScannerPrefilter, OneVectorscanCannotCompileNamesTheRule) {
  const std::string good = R"([[rules]]
id = "broken-prefilter"
regex = '''acme_[a-z0-9]{16}'''
prefilter = '''acme_[0-9]'''
)";
  // Read from a file: refused there, naming the file, line and rule.
  std::string bad = good;
  bad.replace(bad.find("acme_[0-9]"), 10, "acme_(?<=x)");
  auto refused = ParseRules(bad, "mine.toml");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("mine.toml, line 1 (rule 'broken-prefilter'): the "
                                            "prefilter cannot be compiled"),
            std::string::npos)
      << refused.status().message();
  // Built in code: refused by the scanner, naming the rule.
  auto set = ParseRules(good, "mine.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  set->rules[0].prefilter = "acme_(?<=x)";
  auto s = Scanner::Create(std::move(set).value());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("rule 'broken-prefilter': the prefilter cannot be compiled"),
            std::string::npos)
      << s.status().message();
}

// The built-in generic rule's prefilter leaves out lines whose value is an identifier; findings
// must be exactly those of the same rules sent to their regexes by their keywords alone.
TEST(ScannerPrefilter, BuiltinRulesFindTheSameWithoutTheirPrefilters) {
  RuleSet with = BuiltinRules();
  RuleSet without = BuiltinRules();
  size_t prefiltered = 0;
  for (Rule& r : without.rules) {
    prefiltered += r.prefilter.empty() ? 0 : 1;
    r.prefilter.clear();
  }
  ASSERT_GT(prefiltered, 0u);
  auto a = Scanner::Create(std::move(with));
  auto b = Scanner::Create(std::move(without));
  ASSERT_TRUE(a.ok() && b.ok());
  Scanner::Scratch sa = (*a)->NewScratch(), sb = (*b)->NewScratch();
  const std::vector<std::string> names = {
      "token",       "API_KEY",        "db_password", "client-secret", "x.apikey",
      "PRIVATE_KEY", "auth.key",       "credentials", "pwd",           "token_count",
      "secret2",     "my_passwd_file", "AccessKey",   "private-key",   "a_token_sha256"};
  const std::vector<std::string> ops = {"=",     " = ",  ":",   ": ", ":=",      " => ",
                                        "  =\t", "= \"", ": '", "=`", "\" : \"", "\" = "};
  const std::string alphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+/=~!@#$%^&*\"'`(), ";
  std::mt19937 rng(12345);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    std::string value;
    switch (pick(6)) {
      case 0:  // an identifier, maybe dotted or dashed
        for (size_t k = 0, n = 4 + pick(24); k < n; ++k) value += "abcXYZ_.-mnopQRS"[pick(16)];
        break;
      case 1:  // a random run from the whole alphabet
        for (size_t k = 0, n = 2 + pick(40); k < n; ++k) value += alphabet[pick(alphabet.size())];
        break;
      case 2:  // letters with one digit or symbol somewhere
        for (size_t k = 0, n = 6 + pick(20); k < n; ++k) value += "qwertyuiopASDFGHJKL"[pick(19)];
        value[pick(value.size())] = "0123456789+/=~!@#$%^&*"[pick(22)];
        break;
      case 3:  // starts with '.' or '-'
        value = pick(2) ? "." : "-";
        for (size_t k = 0, n = 8 + pick(20); k < n; ++k)
          value += "abcdefghijklmnopqrstuvw"[pick(23)];
        break;
      case 4:  // a Notion token (or one character short), or a name that starts like one
        value = pick(2) ? "secret_" : "SECRET_";
        for (size_t k = 0, n = 41 + pick(4); k < n; ++k) value += alphabet[pick(62)];
        break;
      default:  // base64-looking
        for (size_t k = 0, n = 8 + pick(50); k < n; ++k) value += alphabet[pick(66)];
        break;
    }
    text += std::string(pick(3), ' ') + names[pick(names.size())] + ops[pick(ops.size())] + value +
            (pick(2) ? "\"" : "") + (pick(4) == 0 ? " # note" : "") + "\n";
  }
  auto key = [](const std::vector<Finding>& found) {
    std::vector<std::string> out;
    for (const Finding& f : found) {
      out.push_back(f.rule_id() + "@" + std::to_string(f.line) + ":" + std::to_string(f.column) +
                    "=" + f.secret);
    }
    return out;
  };
  auto fa = key((*a)->Scan(text, {.path = "app/settings.py"}, sa));
  auto fb = key((*b)->Scan(text, {.path = "app/settings.py"}, sb));
  EXPECT_GT(fb.size(), 1000u);  // the input does hold many findings, of both prefiltered rules
  for (const char* rule : {"generic-secret@", "notion-legacy-token@"}) {
    EXPECT_TRUE(std::any_of(fb.begin(), fb.end(), [&](const std::string& f) {
      return f.starts_with(rule);
    })) << rule;
  }
  EXPECT_EQ(fa, fb);
}

TEST(ScannerPathRules, ReportTheFileWhateverItHolds) {
  auto set = ParseRules(
      "[[rules]]\nid = \"keystore\"\ndescription = \"PKCS#12 keystore\"\npath = '''\\.p12$'''\n"
      "[[rules.allowlists]]\npaths = ['''^test/''']\n",
      "r.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto s = Scanner::Create(std::move(set).value());
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto found = (*s)->PathFindings({.path = "certs/server.p12"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rule_id(), "keystore");
  EXPECT_EQ(found[0].line, 0);
  EXPECT_TRUE((*s)->PathFindings({.path = "test/fixture.p12"}).empty());
  EXPECT_TRUE((*s)->PathFindings({.path = "certs/server.pem"}).empty());
}

// Findings carry no copy of their rule's fields: they point at the scanner's rule (or at the
// keyhold-key rule) and read its id, description, severity and revocation page through it.
TEST(ScannerFindings, ReferToTheRuleThatFoundThem) {
  auto set = ParseRules(
      "[[rules]]\nid = \"acme\"\ndescription = \"Acme token\"\nregex = '''acme_([a-z0-9]{20})'''\n"
      "secretGroup = 1\nseverity = \"low\"\nrevoke = \"https://acme.test/revoke\"\n"
      "[[rules]]\nid = \"bare-path\"\npath = '''\\.secretfile$'''\n",
      "r.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto s = Scanner::Create(std::move(set).value());
  ASSERT_TRUE(s.ok()) << s.status().message();
  Scanner::Scratch scratch = (*s)->NewScratch();
  testing::FakeEnv env;
  const std::string key = GenerateKey(env, "sk", 16);
  auto found =
      (*s)->Scan("t = acme_abcdefghij0123456789\nk = " + key + "\n", {.path = "f"}, scratch);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].rule, &(*s)->rules().rules[0]);
  EXPECT_EQ(found[0].rule_id(), "acme");
  EXPECT_EQ(found[0].description(), "Acme token");
  EXPECT_EQ(found[0].severity(), "low");
  EXPECT_EQ(found[0].revoke_url(), "https://acme.test/revoke");
  EXPECT_EQ(found[1].rule, &KeyholdKeyRule());
  EXPECT_EQ(found[1].rule_id(), "keyhold-key");
  EXPECT_EQ(found[1].description(), "keyhold API key (confirmed by its check characters)");
  EXPECT_EQ(found[1].severity(), "critical");
  EXPECT_EQ(found[1].revoke_url(), "");

  // A path rule without a description is reported as what it is.
  auto path = (*s)->PathFindings({.path = "x.secretfile"});
  ASSERT_EQ(path.size(), 1u);
  EXPECT_EQ(path[0].rule, &(*s)->rules().rules[1]);
  EXPECT_EQ(path[0].description(), "file matched by path rule");
  EXPECT_EQ(path[0].severity(), "high");

  const Finding unset;
  EXPECT_EQ(unset.rule_id(), "");
  EXPECT_EQ(unset.description(), "");
  EXPECT_EQ(unset.severity(), "high");
}

// The regex is asked only for the groups up to the secret's; those it gives are the same.
TEST(ScannerFindings, SecretGroupAmongOtherGroups) {
  auto set = ParseRules(
      "[[rules]]\nid = \"second\"\nregex = '''(ab)_(tok_[a-z0-9]{12})_(x+)'''\nsecretGroup = 2\n"
      "[[rules]]\nid = \"first-non-empty\"\nregex = '''(?:zz()|zz(q)?)(key_[a-z0-9]{12})'''\n",
      "r.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto s = Scanner::Create(std::move(set).value());
  ASSERT_TRUE(s.ok()) << s.status().message();
  Scanner::Scratch scratch = (*s)->NewScratch();
  auto found =
      (*s)->Scan("v = ab_tok_a1b2c3d4e5f6_xxx\nw = zzkey_0a1b2c3d4e5f\n", {.path = "f"}, scratch);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].rule_id(), "second");
  EXPECT_EQ(found[0].secret, "tok_a1b2c3d4e5f6");
  EXPECT_EQ(found[0].column, 8);
  EXPECT_EQ(found[1].rule_id(), "first-non-empty");
  EXPECT_EQ(found[1].secret, "key_0a1b2c3d4e5f");
}

// An allowlist's regexes are searched as one alternation, and its path and commit criteria are
// judged once per buffer: what it allows is what each regex alone allows. Each regex keeps its
// own flags and anchors; AND needs every criterion, OR any; stopwords ignore case, also in a
// secret longer than 256 characters.
TEST(ScannerAllowlists, SeveralRegexesAllowWhatEachAllows) {
  auto set = ParseRules(
      "[[rules]]\nid = \"acme\"\nregex = '''acme_([A-Za-z0-9]{8,400})'''\nsecretGroup = 1\n"
      "[[rules.allowlists]]\nregexes = ['''(?i)^abc''', '''XYZ$''', '''^[0-9]+$''']\n"
      "stopwords = [\"dummy\"]\n"
      "[[rules.allowlists]]\ncondition = \"AND\"\npaths = ['''^fixtures/''']\n"
      "regexes = ['''^Q''', '''^R''']\n",
      "r.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto s = Scanner::Create(std::move(set).value());
  ASSERT_TRUE(s.ok()) << s.status().message();
  Scanner::Scratch scratch = (*s)->NewScratch();
  auto secrets = [&](const std::string& text, const std::string& path) {
    std::vector<std::string> out;
    for (const Finding& f : (*s)->Scan(text, {.path = path}, scratch)) out.push_back(f.secret);
    return out;
  };
  const std::string long_dummy = std::string(300, 'k') + "DuMmY";
  const std::string text =
      "a = acme_ABCdefgh1\n"  // (?i)^abc: allowed
      "b = acme_defgh1XYZ\n"  // XYZ$: allowed
      "c = acme_defgh1xyz\n"  // XYZ$ is case-sensitive: reported
      "d = acme_12345678\n"   // ^[0-9]+$: allowed
      "e = acme_1234567x8\n"  // reported
      "f = acme_xxDUMMYxx\n"  // stopword: allowed
      "g = acme_" +
      long_dummy +
      "\n"                    // stopword: allowed
      "h = acme_Qabcdefgh\n"  // ^Q, but AND needs the path: reported
      "i = acme_Rabcdefgh\n";
  EXPECT_EQ(secrets(text, "src/a.txt"),
            (std::vector<std::string>{"defgh1xyz", "1234567x8", "Qabcdefgh", "Rabcdefgh"}));
  EXPECT_EQ(secrets(text, "fixtures/a.txt"), (std::vector<std::string>{"defgh1xyz", "1234567x8"}));
}

TEST(ScannerInput, InvalidUtf8AroundASecret) {
  auto s = Scanner::Create(BuiltinRules());
  ASSERT_TRUE(s.ok());
  Scanner::Scratch scratch = (*s)->NewScratch();
  std::string text =
      "\xff\xfe\xc3 token " + testing::FakeSecret("sk_live_", 24) + " \xe2\x82\n\xc0\xaf";
  auto found = (*s)->Scan(text, {.path = "f"}, scratch);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rule_id(), "stripe-secret-key");
  EXPECT_EQ(found[0].column, 11);
}

}  // namespace
}  // namespace keyhold::scan

namespace keyhold::scan {
namespace {

// The compiled database is kept in the cache directory and used by the next scanner with the
// same rules, with the same split of regexes the database could not take; a damaged entry is
// a miss, not an error.
TEST(ScannerDatabaseCache, AnEntryIsUsedOnlyWhenWholeAndForTheSameRules) {
  std::string dir = ::testing::TempDir() + "/kh-db-entry-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  const std::vector<std::string> exprs = {"acme_", "tok_[a-z]+9"};
  const std::vector<unsigned> flags = {HS_FLAG_CASELESS, HS_FLAG_PREFILTER};
  const CacheKey key = DatabaseCacheKey(exprs, flags);
  // Any change to the rules' patterns or flags is another entry.
  EXPECT_NE(key.id, DatabaseCacheKey({"acme_", "tok_[a-z]+8"}, flags).id);
  EXPECT_NE(key.id, DatabaseCacheKey(exprs, {HS_FLAG_CASELESS, HS_FLAG_CASELESS}).id);
  EXPECT_NE(key.id, DatabaseCacheKey({"acme_"}, {HS_FLAG_CASELESS}).id);
  EXPECT_EQ(key.id, DatabaseCacheKey(exprs, flags).id);
  // An expression holding what would separate two others encodes apart from them.
  EXPECT_NE(DatabaseCacheKey({std::string("a\0\1\0\0\0b", 7)}, {1}).material,
            DatabaseCacheKey({"a", "b"}, {1, 1}).material);

  std::vector<const char*> ptrs = {exprs[0].c_str(), exprs[1].c_str()};
  std::vector<unsigned> ids = {0, 1};
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  ASSERT_EQ(
      hs_compile_multi(ptrs.data(), flags.data(), ids.data(), 2, HS_MODE_BLOCK, nullptr, &db, &err),
      HS_SUCCESS);
  StoreCachedDatabase(dir, key, db, {7});
  hs_free_database(db);
  const std::string path = dir + "/scan-" + key.id + ".hsdb";
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(good.size(), 100u);
  auto load = [&](const CacheKey& k) {
    std::vector<uint32_t> dropped;
    hs_database_t* got = LoadCachedDatabase(dir, k, dropped);
    bool ok = got != nullptr && dropped == std::vector<uint32_t>{7};
    if (got) hs_free_database(got);
    return ok;
  };
  auto write = [&](const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  };
  EXPECT_TRUE(load(key));
  EXPECT_FALSE(load(DatabaseCacheKey({"other"}, {0})));  // no entry for other rules
  // An entry under the right name built from other expressions (a digest collision) is a miss.
  EXPECT_FALSE(load(CacheKey{key.id, DatabaseCacheKey({"other"}, {0}).material}));
  // One byte changed anywhere, or the file cut short, is a miss (never a database).
  for (size_t at = 0; at < good.size(); at += 1 + good.size() / 97) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x20);
    write(bad);
    EXPECT_FALSE(load(key)) << "byte " << at;
  }
  write(good.substr(0, good.size() - 1));
  EXPECT_FALSE(load(key));
  write("");
  EXPECT_FALSE(load(key));
  write(good);
  EXPECT_TRUE(load(key));
  // Writable by others: not trusted.
  std::filesystem::permissions(path, std::filesystem::perms::group_write,
                               std::filesystem::perm_options::add);
  EXPECT_FALSE(load(key));
  std::filesystem::remove_all(dir);
}

TEST(ScannerDatabaseCache, ReusedWhenTheRulesAreTheSameAndIgnoredWhenDamaged) {
  std::string dir = ::testing::TempDir() + "/kh-db-cache-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  const char* toml =
      "[[rules]]\nid = \"lazy\"\nregex = '''(?U)tok_[a-z]+9'''\n"
      "[[rules]]\nid = \"acme\"\nregex = '''acme_[a-z0-9]{16}'''\nkeywords = [\"acme_\"]\n";
  auto scan_with_cache = [&] {
    auto set = ParseRules(toml, "r.toml");
    EXPECT_TRUE(set.ok());
    auto s = Scanner::Create(std::move(set).value(), dir);
    EXPECT_TRUE(s.ok()) << s.status().message();
    Scanner::Scratch scratch = (*s)->NewScratch();
    std::vector<std::string> ids;
    for (const Finding& f :
         (*s)->Scan("x = tok_abc9\ny = acme_0123456789abcdef\n", {.path = "f"}, scratch)) {
      ids.push_back(f.rule_id());
    }
    return ids;
  };
  const std::vector<std::string> want = {"lazy", "acme"};
  EXPECT_EQ(scan_with_cache(), want);  // compiles and stores
  std::vector<std::filesystem::path> entries;
  for (const auto& e : std::filesystem::directory_iterator(dir)) entries.push_back(e.path());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(std::filesystem::status(entries[0]).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(scan_with_cache(), want);  // loads
  {
    std::fstream f(entries[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  EXPECT_EQ(scan_with_cache(), want);  // damaged: compiled again
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyhold::scan

namespace keyhold::scan {
namespace {

// Scanning time must grow with the input, whatever its shape: four times the input may take
// about four times as long, never sixteen (the quadratic cost that one long line of keywords
// once had: 240 KB of "token token ..." took 5.6 s). Each shape is a worst case of one part of
// the scanner: keywords on every word of one line, a multi-line rule's keyword repeated, text
// with no line breaks, a finding every few bytes.
TEST(ScannerLinear, TimeGrowsWithTheInputNotItsSquare) {
  auto s = Scanner::Create(BuiltinRules());
  ASSERT_TRUE(s.ok());
  Scanner::Scratch scratch = (*s)->NewScratch();
  auto repeat = [](std::string_view unit, size_t size) {
    std::string out;
    out.reserve(size + unit.size());
    while (out.size() < size) out += unit;
    return out;
  };
  auto noise = [](size_t size) {
    const std::string_view alphabet =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 =:_-.";
    std::string out(size, ' ');
    uint64_t x = 88172645463325252ULL;
    for (char& c : out) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = alphabet[x % alphabet.size()];
    }
    return out;
  };
  struct Shape {
    const char* name;
    std::function<std::string(size_t)> make;
  };
  const std::vector<Shape> shapes = {
      {"one line of keywords", [&](size_t n) { return repeat("token ", n); }},
      {"keyword and separator", [&](size_t n) { return repeat("api_key=", n); }},
      {"multi-line rule's keyword",
       [&](size_t n) {
         return repeat(
             "-----BEGIN "
             "RSA PRIVATE KEY-----",
             n);
       }},
      {"noise without line breaks", noise},
      {"a finding every line",
       [&](size_t n) { return repeat("password=\"Xk9#mQ2v!pL7zR4w\"\n", n); }},
  };
  // CPU time of this thread, so that a loaded machine's preemptions do not count.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  auto seconds = [&](const std::string& text) {
    double best = 1e9;
    for (int run = 0; run < 3; ++run) {
      const double start = cpu_now();
      auto found = (*s)->Scan(text, {.path = "f"}, scratch);
      best = std::min(best, cpu_now() - start);
    }
    return best;
  };
  constexpr size_t kSmall = 128 * 1024;
  for (const Shape& shape : shapes) {
    double small = seconds(shape.make(kSmall));
    double large = seconds(shape.make(4 * kSmall));
    EXPECT_LT(large, 10 * std::max(small, 0.005))
        << shape.name << ": " << small << " s for 128 KiB, " << large << " s for 512 KiB";
  }
}

}  // namespace
}  // namespace keyhold::scan
