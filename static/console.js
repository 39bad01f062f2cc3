// The console works without JavaScript; this asks before destructive
// buttons (those with data-confirm) submit their form, and lets
// CONTROL/MONITORING update itself in place (server-sent events) instead
// of reloading, remembering the auto update switch in this browser.
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
	// The switch is remembered per browser. A page asked for with the
	// switch in its address (the switch's form, a link) says what to
	// remember; a plain /control takes what was remembered.
	var keyAuto = "lvsconsole.control.auto", keyEvery = "lvsconsole.control.every";
	function remember() {
		try {
			localStorage.setItem(keyAuto, auto.checked ? "1" : "0");
			localStorage.setItem(keyEvery, every.value);
		} catch (e) {
			// Storage refused (private mode): the switch still works.
		}
	}
	try {
		if (new URLSearchParams(location.search).has("auto")) {
			remember();
		} else {
			var a = localStorage.getItem(keyAuto), n = localStorage.getItem(keyEvery);
			if (a !== null) {
				auto.checked = a === "1";
			}
			if (n !== null && /^[0-9]+$/.test(n)) {
				every.value = n;
			}
		}
	} catch (e) {
		// As above.
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
			// The time the update was made, as the server writes every
			// time: the same format, with its zone.
			var at = document.getElementById("live-at");
			var stamp = document.getElementById("updated");
			if (at && stamp) {
				stamp.textContent = at.textContent;
			}
		});
	}
	function changed() {
		remember();
		start();
	}
	auto.addEventListener("change", changed);
	every.addEventListener("change", changed);
	start();
})();
