// PostgresServer: initdb + pg_ctl into a temporary directory, for tests.
#include "store/testing/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <pqxx/pqxx>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace mlcanary::store::testing {
namespace {

namespace fs = std::filesystem;

bool IsExecutable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0; }

// Where initdb and pg_ctl are, or "" when nowhere.
std::string FindBindir() {
  if (const char* env = std::getenv("MLCANARY_PG_BINDIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  int best = -1;
  std::string found;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const int version = std::atoi(name.c_str());
    if (version > best && IsExecutable(entry.path() / "bin" / "initdb")) {
      best = version;
      found = (entry.path() / "bin").string();
    }
  }
  if (!found.empty()) return found;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty() && IsExecutable(fs::path(dir) / "initdb")) return dir;
    }
  }
  return "";
}

std::string FindRunuser() {
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"}) {
    if (IsExecutable(p)) return p;
  }
  return "";
}

// A port of 127.0.0.1 that nothing listens on now (the kernel's pick).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace

struct PostgresServer::Connections {
  std::map<std::string, std::unique_ptr<pqxx::connection>> by_database;
};

PostgresServer::PostgresServer() : connections_(std::make_unique<Connections>()) {}

core::Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->bindir_ = FindBindir();
  if (s->bindir_.empty()) {
    return core::InternalError(
        "postgres test server: no initdb in $MLCANARY_PG_BINDIR, /usr/lib/postgresql/*/bin or "
        "the PATH; install Debian's postgresql package (scripts/install-deps)");
  }
  s->data_ = s->dir_.File("data");
  s->log_ = s->dir_.File("postgres.log");
  const std::string pwfile = s->dir_.File("pwfile");
  {
    std::ofstream(pwfile) << kPassword << "\n";
    std::ofstream(s->log_).flush();
  }
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      return core::InternalError(
          "postgres test server: running as root, and PostgreSQL refuses root, but there is no "
          "`postgres` user to run it as (Debian's postgresql package makes one)");
    }
    for (const std::string& p : {s->dir_.path(), pwfile, s->log_}) {
      if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return core::InternalError("postgres test server: chown " + p + " failed");
      }
    }
    s->as_postgres_ = true;
  }
  if (auto st = s->RunProgram(
          "initdb", {"-D", s->data_, "-U", kUser, "--pwfile=" + pwfile, "--auth-local=trust",
                     "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"});
      !st) {
    return std::unexpected(st.error());
  }
  // A port picked now may be taken before the server binds it: try a few.
  core::Status started = core::InternalError("not started");
  for (int attempt = 0; attempt < 3 && !started; ++attempt) {
    s->port_ = FreePort();
    started = s->Restart();
  }
  if (!started) return std::unexpected(started.error());
  return s;
}

PostgresServer::~PostgresServer() {
  connections_->by_database.clear();
  if (running_) (void)RunProgram("pg_ctl", {"stop", "-D", data_, "-m", "immediate", "-w"});
}

core::Status PostgresServer::Stop() {
  connections_->by_database.clear();
  if (auto s = RunProgram("pg_ctl", {"stop", "-D", data_, "-m", "fast", "-w", "-t", "30"}); !s) {
    return s;
  }
  running_ = false;
  return core::Ok();
}

core::Status PostgresServer::Restart() {
  // fsync off and friends: a test server keeps nothing across a crash.
  const std::string options = "-p " + std::to_string(port_) + " -k " + dir_.path() +
                              " -c listen_addresses=127.0.0.1 -c fsync=off"
                              " -c synchronous_commit=off -c full_page_writes=off";
  if (auto s =
          RunProgram("pg_ctl", {"start", "-D", data_, "-l", log_, "-w", "-t", "30", "-o", options});
      !s) {
    return s;
  }
  running_ = true;
  return core::Ok();
}

std::string PostgresServer::Url(const std::string& database) const {
  return std::string("postgresql://") + kUser + ":" + kPassword +
         "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

core::Status PostgresServer::Exec(const std::string& database, const std::string& sql) {
  // One connection per database, kept: a new one costs a backend and a SCRAM
  // exchange, which every test would pay. One that broke (a restart) is replaced.
  for (int attempt = 0;; ++attempt) {
    auto& conn = connections_->by_database[database];
    try {
      if (!conn || !conn->is_open()) conn = std::make_unique<pqxx::connection>(Url(database));
      pqxx::nontransaction tx(*conn);
      tx.exec(sql);
      return core::Ok();
    } catch (const pqxx::broken_connection& e) {
      conn.reset();
      if (attempt == 0) continue;
      return core::InternalError("postgres test server: " + sql + ": " + e.what());
    } catch (const std::exception& e) {
      return core::InternalError("postgres test server: " + sql + ": " + e.what());
    }
  }
}

core::Result<std::string> PostgresServer::CreateDatabase(const std::string& name) {
  // FILE_COPY: copying template1's few files is faster than WAL-logging them.
  if (auto s = Exec("postgres", "CREATE DATABASE \"" + name + "\" STRATEGY = FILE_COPY"); !s) {
    return std::unexpected(s.error());
  }
  return Url(name);
}

core::Status PostgresServer::RunProgram(const std::string& program,
                                        const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (as_postgres_) {
    const std::string runuser = FindRunuser();
    if (runuser.empty()) {
      return core::InternalError("postgres test server: running as root and no runuser found");
    }
    argv = {runuser, "-u", "postgres", "--"};
  }
  argv.push_back(bindir_ + "/" + program);
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return core::InternalError("postgres test server: fork failed");
  if (pid == 0) {
    const int fd = ::open(log_.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    // The data directory must not be reachable from a directory we cannot
    // enter: start the programs in the temporary directory.
    if (::chdir(dir_.path().c_str()) != 0) ::_exit(126);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return core::Ok();
  std::string command;
  for (const std::string& a : argv) command += (command.empty() ? "" : " ") + a;
  return core::InternalError("postgres test server: `" + command + "` failed (status " +
                             std::to_string(status) + "); log:\n" + LogTail());
}

std::string PostgresServer::LogTail() const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

}  // namespace mlcanary::store::testing
