#include "tests/support/credentials/test_certificate.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "gtest/gtest.h"
#include "tests/support/process/daemon_process.h"

namespace channel::testing {

std::unique_ptr<TestCertificate> TestCertificate::Make() {
  std::string tmpl = ::testing::TempDir() + "channel-cert-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl;
    return nullptr;
  }
  std::unique_ptr<TestCertificate> out(new TestCertificate());
  out->dir_ = tmpl;
  out->cert_ = tmpl + "/cert.pem";
  out->key_ = tmpl + "/key.pem";
  auto openssl = DaemonProcess::Start(
      "/usr/bin/openssl",
      {"req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-keyout",
       out->key_, "-out", out->cert_, "-subj", "/CN=127.0.0.1", "-addext",
       "subjectAltName=IP:127.0.0.1"});
  const auto status = openssl->Wait(std::chrono::seconds(30));
  if (status != 0) {
    ADD_FAILURE() << "openssl req failed: " << openssl->Output();
    return nullptr;
  }
  return out;
}

TestCertificate::~TestCertificate() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace channel::testing
