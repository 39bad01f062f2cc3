// The console works without JavaScript; this asks before destructive
// buttons (those with data-confirm) submit their form, and lets
// CONTROL/MONITORING update itself in place (server-sent events) instead
// of reloading.
document.addEventListener("click", function (ev) {
	var b = ev.target.closest("[data-confirm]");
	if (b && !window.confirm(b.getAttribute("data-confirm"))) {
		ev.preventDefault();
	}
});

(function () {
	var live = document.getElementById("live");
	var auto = document.getElementById("auto");
	var every = document.getElementById("every");
	if (!live || !auto || !every || !window.EventSource) {
		return;
	}
	var source = null;
	function stop() {
		if (source) {
			source.close();
			source = null;
		}
	}
	function start() {
		stop();
		if (!auto.checked) {
			return;
		}
		source = new EventSource(live.getAttribute("data-stream") + "?every=" + encodeURIComponent(every.value));
		source.addEventListener("update", function (ev) {
			live.innerHTML = ev.data;
			var stamp = document.getElementById("updated");
			if (stamp) {
				stamp.textContent = new Date().toLocaleString();
			}
		});
	}
	auto.addEventListener("change", start);
	every.addEventListener("change", start);
	start();
})();
