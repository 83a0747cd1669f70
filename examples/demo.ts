console.log("demo: coming with the PKI module");
