#include "soleus/test_support/fake_modbus_server.hpp"

#include <modbus/modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace soleus::test {

FakeModbusServer::FakeModbusServer(const std::vector<int>& units, int registers) {
  for (int u : units) {
    modbus_mapping_t* m = modbus_mapping_new(registers, registers, registers, registers);
    if (m == nullptr) throw std::runtime_error("modbus_mapping_new failed");
    banks_[u] = m;
  }
  ctx_ = modbus_new_tcp("127.0.0.1", 0);
  if (ctx_ == nullptr) throw std::runtime_error("modbus_new_tcp failed");
  listen_fd_ = modbus_tcp_listen(ctx_, 1);
  if (listen_fd_ < 0)
    throw std::runtime_error(std::string("modbus_tcp_listen: ") + modbus_strerror(errno));
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FakeModbusServer::~FakeModbusServer() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  modbus_close(ctx_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  modbus_free(ctx_);
  for (auto& [u, m] : banks_) modbus_mapping_free(m);
}

FakeModbusServer::FakeModbusServer(const Rtu& rtu, int registers) : rtu_(true) {
  const std::string& rtu_device = rtu.device;
  const int unit = rtu.unit;
  modbus_mapping_t* m = modbus_mapping_new(registers, registers, registers, registers);
  if (m == nullptr) throw std::runtime_error("modbus_mapping_new failed");
  banks_[unit] = m;
  ctx_ = modbus_new_rtu(rtu_device.c_str(), rtu.baud, rtu.parity, 8, 1);
  if (ctx_ == nullptr) throw std::runtime_error("modbus_new_rtu failed");
  modbus_set_slave(ctx_, unit);
  if (modbus_connect(ctx_) != 0)
    throw std::runtime_error(rtu_device + ": " + modbus_strerror(errno));
  thread_ = std::thread([this] { serve(); });
}

void FakeModbusServer::serve() {
  if (rtu_) {
    serve_client();
    return;
  }
  while (!stop_.load()) {
    pollfd lp{listen_fd_, POLLIN, 0};
    if (::poll(&lp, 1, 20) <= 0) continue;
    if (modbus_tcp_accept(ctx_, &listen_fd_) < 0) continue;
    serve_client();
    modbus_close(ctx_);
  }
}

void FakeModbusServer::serve_client() {
  std::uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  const int header = rtu_ ? 1 : 7;  // unit id is the byte before the function code
  while (!stop_.load()) {
    pollfd cp{modbus_get_socket(ctx_), POLLIN, 0};
    if (::poll(&cp, 1, 20) <= 0) continue;
    const int rc = modbus_receive(ctx_, query);
    if (rc < 0 && !rtu_) return;  // client gone: wait for the next one
    if (rc <= 0) continue;        // RTU: another unit, or noise
    if (kick_.exchange(false)) return;
    const int unit = query[header - 1];
    const int fc = query[header];
    modbus_mapping_t* bank = nullptr;
    {
      std::lock_guard lock(mutex_);
      ++counts_[fc];
      if (drop_.load() > 0) {
        drop_.fetch_sub(1);
        continue;
      }
      auto it = banks_.find(unit);
      if (it == banks_.end()) continue;
      bank = it->second;
    }
    if (const int d = delay_ms_.exchange(0); d > 0) ::usleep(static_cast<useconds_t>(d) * 1000);
    std::lock_guard lock(mutex_);
    modbus_reply(ctx_, query, rc, bank);
    for (const auto& [u, a, v] : after_reply_) {
      auto b = banks_.find(u);
      if (b != banks_.end()) b->second->tab_registers[a] = v;
    }
  }
}

void FakeModbusServer::set_holding(int unit, int address, std::uint16_t value) {
  std::lock_guard lock(mutex_);
  banks_.at(unit)->tab_registers[address] = value;
}
void FakeModbusServer::set_input(int unit, int address, std::uint16_t value) {
  std::lock_guard lock(mutex_);
  banks_.at(unit)->tab_input_registers[address] = value;
}
std::uint16_t FakeModbusServer::holding(int unit, int address) const {
  std::lock_guard lock(mutex_);
  return banks_.at(unit)->tab_registers[address];
}
std::uint16_t FakeModbusServer::input(int unit, int address) const {
  std::lock_guard lock(mutex_);
  return banks_.at(unit)->tab_input_registers[address];
}
int FakeModbusServer::requests(int function_code) const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(function_code);
  return it == counts_.end() ? 0 : it->second;
}
int FakeModbusServer::total_requests() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& [fc, c] : counts_) n += c;
  return n;
}
void FakeModbusServer::reset_counts() {
  std::lock_guard lock(mutex_);
  counts_.clear();
}
void FakeModbusServer::set_after_reply(int unit, int address, std::uint16_t value) {
  std::lock_guard lock(mutex_);
  after_reply_.emplace_back(unit, address, value);
}

}  // namespace soleus::test
