#ifndef CHANNEL_TESTS_SUPPORT_CREDENTIALS_TEST_CERTIFICATE_H_
#define CHANNEL_TESTS_SUPPORT_CREDENTIALS_TEST_CERTIFICATE_H_

#include <memory>
#include <string>

namespace channel::testing {

// A self-signed certificate for 127.0.0.1 and its key (ECDSA P-256, one day),
// made by the openssl command-line tool in a fresh temporary directory that
// the destructor removes. For wss gateways in tests.
class TestCertificate {
 public:
  // Null (with a test failure added) when openssl failed.
  static std::unique_ptr<TestCertificate> Make();
  ~TestCertificate();

  const std::string& cert_file() const { return cert_; }
  const std::string& key_file() const { return key_; }
  // The gateway flags that serve wss with it.
  std::string cert_flag() const { return "--tls_cert=" + cert_; }
  std::string key_flag() const { return "--tls_key=" + key_; }

 private:
  TestCertificate() = default;
  std::string dir_, cert_, key_;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_CREDENTIALS_TEST_CERTIFICATE_H_
