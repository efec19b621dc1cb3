/* The bid log, checked in this browser (issue 24): every leaf's SHA-256 (WebCrypto), its link to
   the one before, its number, and the head; then the bid receipts this browser kept (the live
   page stores them per auction in localStorage under nb-receipts-<auction>). The same rule as
   auctions/bidlog.py chain_problem and `python -m neighborbid.verify`. */
(async () => {
  const data = JSON.parse(document.getElementById("bidlog-data").textContent);
  const result = document.getElementById("verify-result");
  const mine = document.getElementById("verify-mine");
  if (!window.crypto || !crypto.subtle) {
    result.textContent = "이 브라우저(또는 HTTP 주소)에서는 해시를 계산할 수 없어요. JSON을 내려받아 직접 확인해 주세요.";
    return;
  }
  const encoder = new TextEncoder();
  const sha256 = async (text) => {
    const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  };
  let prev = "";
  let bad = null;
  for (let i = 0; i < data.leaves.length; i += 1) {
    const leaf = data.leaves[i];
    let ok = leaf.seq === i + 1 && (await sha256(leaf.body)) === leaf.hash;
    if (ok) {
      let fields = null;
      try { fields = JSON.parse(leaf.body); } catch (e) { fields = null; }
      ok = fields !== null && typeof fields === "object" && fields.prev === prev
        && fields.seq === leaf.seq && fields.auction === data.auction;
    }
    const row = document.querySelector(`.verify__list [data-seq="${leaf.seq}"]`);
    if (row) row.classList.add(ok ? "verify__ok" : "verify__bad");
    if (!ok) { bad = leaf.seq; break; }
    prev = leaf.hash;
  }
  if (bad === null && prev !== data.head) bad = data.leaves.length;
  result.className = bad === null ? "verify__ok" : "verify__bad";
  result.textContent = bad === null
    ? "모든 입찰 기록이 확인됐어요"
    : `${bad}번 기록이 맞지 않아요. 기록이 나중에 바뀌었을 수 있어요.`;
  let receipts = [];
  try { receipts = JSON.parse(localStorage.getItem(`nb-receipts-${data.auction}`) || "[]"); } catch (e) { receipts = []; }
  const hashes = new Map(data.leaves.map((leaf) => [leaf.seq, leaf.hash]));
  const found = receipts.filter((r) => hashes.get(r.seq) === r.hash).length;
  if (!receipts.length) mine.textContent = "이 브라우저에 저장된 내 입찰 영수증이 없어요.";
  else if (found === receipts.length) mine.textContent = `내 입찰 ${found}건 확인`;
  else mine.textContent = `내 입찰 ${receipts.length}건 중 ${receipts.length - found}건이 기록에 없어요`;
  mine.className = found === receipts.length ? "verify__ok" : "verify__bad";
})();
